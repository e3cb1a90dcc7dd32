#!/usr/bin/env python3
"""Helpers for the tsmedia integration tests: JSON, trees, bytes.

Called from lib.sh as `python3 tsmtest.py SUBCOMMAND ARGS...`.  Every
subcommand exits non-zero with a message on stderr when its check fails.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import stat
import subprocess
import sys

ID_RE = re.compile(r'^[A-Z0-9]{3}[0-9A-F]{5}$')


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def load(path):
    try:
        if path == '-':
            return json.load(sys.stdin)
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (ValueError, OSError) as e:
        die(f'not valid JSON ({path}): {e}')


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


# ---------------------------------------------------------------- JSON
def cmd_get(a):
    """get FILE KEY: print a value by dotted path (list indexes are ints)."""
    doc = load(a.file)
    for k in a.key.split('.'):
        try:
            doc = doc[int(k)] if isinstance(doc, list) else doc[k]
        except (KeyError, IndexError, ValueError, TypeError):
            die(f'JSON has no key {a.key!r} (failed at {k!r}): {json.dumps(doc)[:500]}')
    if isinstance(doc, (dict, list)):
        print(json.dumps(doc, ensure_ascii=False))
    elif isinstance(doc, bool):
        print('true' if doc else 'false')
    else:
        print(doc)


def collect_ids(doc, out):
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == 'id' and isinstance(v, str) and ID_RE.match(v):
                out.append(v)
            else:
                collect_ids(v, out)
    elif isinstance(doc, list):
        for v in doc:
            collect_ids(v, out)


def cmd_ids(a):
    """ids FILE: every content ID ("id" keys) found anywhere in the JSON."""
    out = []
    collect_ids(load(a.file), out)
    for i in sorted(set(out)):
        print(i)


# ---------------------------------------------------------------- trees
def manifest(root):
    """path -> entry for everything below root (root itself excluded)."""
    ents = {}
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        st = os.lstat(root)
        name = os.path.basename(root)
        ents[name] = {'type': 'file', 'size': st.st_size, 'sha256': sha256_file(root),
                      'mode': stat.S_IMODE(st.st_mode), 'mtime': int(st.st_mtime)}
        return ents
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                ents[rel] = {'type': 'symlink', 'target': os.readlink(full)}
            elif stat.S_ISDIR(st.st_mode):
                ents[rel] = {'type': 'dir', 'mode': stat.S_IMODE(st.st_mode)}
            elif stat.S_ISREG(st.st_mode):
                ents[rel] = {'type': 'file', 'size': st.st_size, 'sha256': sha256_file(full),
                             'mode': stat.S_IMODE(st.st_mode), 'mtime': int(st.st_mtime)}
            else:
                ents[rel] = {'type': 'special'}
    return ents


def cmd_manifest(a):
    """manifest TREE OUT.json: record the tree (files with size and SHA-256)."""
    m = manifest(a.tree)
    with open(a.out, 'w', encoding='utf-8') as f:
        json.dump(m, f, ensure_ascii=False, indent=0, sort_keys=True)
    nfiles = sum(1 for e in m.values() if e['type'] == 'file')
    nbytes = sum(e['size'] for e in m.values() if e['type'] == 'file')
    print(f'{nfiles} {nbytes}')


def norm_path(p):
    while p.startswith('./'):
        p = p[2:]
    p = p.strip('/')
    return p


def parse_mode(m):
    if isinstance(m, bool):
        return None
    if isinstance(m, int):
        return m
    if isinstance(m, str):
        try:
            return int(m, 8)
        except ValueError:
            return None
    return None


def mtime_matches(val, epoch):
    if isinstance(val, (int, float)) and not isinstance(val, bool):
        v = int(val)
        return v == epoch or v // 1000 == epoch or v // 1000000 == epoch or v // 1000000000 == epoch
    if isinstance(val, str):
        import datetime
        d = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
        return d.strftime('%Y-%m-%dT%H:%M:%S') in val or d.strftime('%Y-%m-%d %H:%M:%S') in val
    return False


def cmd_check_show(a):
    """check-show SHOW.json MANIFEST.json: show's file list equals the tree."""
    doc = load(a.show)
    exp = load(a.manifest)
    errs = []
    for key in ('id', 'kind', 'name', 'versions', 'files'):
        if key not in doc:
            errs.append(f'show --json lacks key {key!r}')
    if errs:
        die('\n'.join(errs))
    if not isinstance(doc['files'], list):
        other = [k for k, v in doc.items() if isinstance(v, list) and k != 'versions']
        die(f'show --json "files" is {type(doc["files"]).__name__} {doc["files"]!r}, expected the newest '
            f'version\'s file list: an array of {{path, type, size, sha256, mode, mtime}}'
            + (f' (the document has these other arrays: {other})' if other else ''))
    got = {}
    for e in doc['files']:
        for key in ('path', 'type'):
            if key not in e:
                die(f'file entry without {key!r}: {e}')
        p = norm_path(e['path'])
        if p in ('', '.'):
            continue
        if p in got:
            errs.append(f'path listed twice: {p!r}')
        got[p] = e
    for p, x in sorted(exp.items()):
        g = got.get(p)
        if g is None:
            errs.append(f'missing from show: {x["type"]} {p!r}')
            continue
        if g['type'] != x['type']:
            errs.append(f'{p!r}: type {g["type"]!r}, expected {x["type"]!r}')
            continue
        if x['type'] == 'file':
            for key in ('size', 'sha256', 'mode', 'mtime'):
                if key not in g:
                    errs.append(f'{p!r}: file entry lacks {key!r}: {g}')
            if g.get('size') != x['size']:
                errs.append(f'{p!r}: size {g.get("size")!r}, expected {x["size"]}')
            if str(g.get('sha256', '')).lower() != x['sha256']:
                errs.append(f'{p!r}: sha256 {g.get("sha256")!r}, expected {x["sha256"]}')
        if x['type'] == 'symlink' and g.get('target') != x['target']:
            errs.append(f'{p!r}: symlink target {g.get("target")!r}, expected {x["target"]!r}')
        if x['type'] == 'file':
            if a.check_mode:
                m = parse_mode(g.get('mode'))
                if m is None or (m & 0o777) != (x['mode'] & 0o777):
                    errs.append(f'{p!r}: mode {g.get("mode")!r}, expected {oct(x["mode"])}')
    for p in sorted(set(got) - set(exp)):
        errs.append(f'listed by show but not in the source: {got[p]["type"]} {p!r}')
    for spec in a.mtime or []:
        p, epoch = spec.rsplit('=', 1)
        g = got.get(p)
        if g is not None and not mtime_matches(g.get('mtime'), int(epoch)):
            errs.append(f'{p!r}: mtime {g.get("mtime")!r}, expected {epoch} (epoch seconds)')
    if errs:
        die(f'{len(errs)} mismatch(es) between show --json and the source:\n  ' + '\n  '.join(errs[:40]))
    print(f'{len(exp)} entries match')


def cat_one(tsmedia, store, cid, path, want_sha, want_size):
    h = hashlib.sha256()
    n = 0
    p = subprocess.Popen([tsmedia, '--store', store, 'content', 'cat', cid, path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while True:
        b = p.stdout.read(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    err = p.stderr.read().decode(errors='replace').strip()
    rc = p.wait()
    if rc != 0:
        return f'content cat {cid} {path!r}: exit {rc}: {err[:300]}'
    if n != want_size or h.hexdigest() != want_sha:
        return f'content cat {cid} {path!r}: got {n} bytes sha256 {h.hexdigest()}, expected {want_size} bytes {want_sha}'
    return None


def cmd_cat_check(a):
    """cat-check TSMEDIA STORE ID MANIFEST.json: every file cats to its bytes."""
    exp = load(a.manifest)
    files = [(p, e) for p, e in sorted(exp.items()) if e['type'] == 'file']
    if a.only_from:
        with open(a.only_from, encoding='utf-8') as f:
            a.only = (a.only or []) + [l.rstrip('\n') for l in f if l.strip()]
    if a.only:
        only = set(a.only)
        files = [(p, e) for p, e in files if p in only]
        if len(files) != len(only):
            die(f'cat-check: {only - {p for p, _ in files}} not in the manifest')
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        res = list(ex.map(lambda pe: cat_one(a.tsmedia, a.store, a.id, pe[0], pe[1]['sha256'], pe[1]['size']), files))
    errs = [r for r in res if r]
    if errs:
        die(f'{len(errs)} of {len(files)} files did not cat back correctly:\n  ' + '\n  '.join(errs[:20]))
    print(f'{len(files)} files cat back byte-identical')


# ---------------------------------------------------------------- bytes
def cmd_flip(a):
    """flip FILE OFFSET: invert one byte in place."""
    with open(a.file, 'r+b') as f:
        f.seek(a.offset)
        b = f.read(1)
        if len(b) != 1:
            die(f'offset {a.offset} beyond end of {a.file}')
        f.seek(a.offset)
        f.write(bytes([b[0] ^ 0xFF]))
        f.flush()
        os.fsync(f.fileno())
    print(f'{b[0]:02x}')


def cmd_find_window(a):
    """find-window PACK OFFSET FILE...: which source files hold the bytes
    around OFFSET of PACK (read before corruption); prints path<TAB>offset."""
    w = 32
    with open(a.pack, 'rb') as f:
        f.seek(a.offset - w)
        win = f.read(2 * w)
    if len(win) != 2 * w:
        die('window out of range')
    for path in a.files:
        with open(path, 'rb') as f:
            data = f.read()
        i = data.find(win)
        while i >= 0:
            print(f'{path}\t{i + w}')
            i = data.find(win, i + 1)


def cmd_find_bytes(a):
    """find-bytes HAYSTACK NEEDLE_FILE NEEDLE_OFFSET LEN: offsets in HAYSTACK
    where NEEDLE_FILE[NEEDLE_OFFSET:+LEN] occurs."""
    with open(a.needle_file, 'rb') as f:
        f.seek(a.needle_offset)
        needle = f.read(a.len)
    with open(a.haystack, 'rb') as f:
        data = f.read()
    i = data.find(needle)
    while i >= 0:
        print(i)
        i = data.find(needle, i + 1)


def cmd_prefix(a):
    """prefix OUT ORIG: OUT must equal ORIG or be a prefix of it."""
    with open(a.out, 'rb') as f:
        out = f.read()
    with open(a.orig, 'rb') as f:
        orig = f.read()
    if out == orig:
        print('full')
    elif orig.startswith(out):
        print(f'prefix {len(out)}')
    else:
        n = min(len(out), len(orig))
        i = next((k for k in range(n) if out[k] != orig[k]), n)
        die(f'output ({len(out)} bytes) is not a prefix of the original ({len(orig)} bytes): first difference at byte {i}')


# ---------------------------------------------------------------- generation
def cmd_gen_small(a):
    """gen-small DIR COUNT MIN MAX SEED: COUNT random files in subdirectories."""
    import random
    rnd = random.Random(a.seed)
    total = 0
    for i in range(a.count):
        d = os.path.join(a.dir, f'd{i % 37:02d}', f'e{i % 5}')
        os.makedirs(d, exist_ok=True)
        n = rnd.randint(a.min, a.max)
        with open(os.path.join(d, f'f{i:06d}.bin'), 'wb') as f:
            f.write(os.urandom(n))
        total += n
    print(total)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('get'); p.add_argument('file'); p.add_argument('key'); p.set_defaults(fn=cmd_get)
    p = sub.add_parser('ids'); p.add_argument('file'); p.set_defaults(fn=cmd_ids)
    p = sub.add_parser('manifest'); p.add_argument('tree'); p.add_argument('out'); p.set_defaults(fn=cmd_manifest)
    p = sub.add_parser('check-show'); p.add_argument('show'); p.add_argument('manifest')
    p.add_argument('--check-mode', action='store_true'); p.add_argument('--mtime', action='append')
    p.set_defaults(fn=cmd_check_show)
    p = sub.add_parser('cat-check'); p.add_argument('tsmedia'); p.add_argument('store'); p.add_argument('id')
    p.add_argument('manifest'); p.add_argument('--jobs', type=int, default=2); p.add_argument('--only', action='append')
    p.add_argument('--only-from')
    p.set_defaults(fn=cmd_cat_check)
    p = sub.add_parser('flip'); p.add_argument('file'); p.add_argument('offset', type=int); p.set_defaults(fn=cmd_flip)
    p = sub.add_parser('find-window'); p.add_argument('pack'); p.add_argument('offset', type=int)
    p.add_argument('files', nargs='+'); p.set_defaults(fn=cmd_find_window)
    p = sub.add_parser('find-bytes'); p.add_argument('haystack'); p.add_argument('needle_file')
    p.add_argument('needle_offset', type=int); p.add_argument('len', type=int); p.set_defaults(fn=cmd_find_bytes)
    p = sub.add_parser('prefix'); p.add_argument('out'); p.add_argument('orig'); p.set_defaults(fn=cmd_prefix)
    p = sub.add_parser('gen-small'); p.add_argument('dir'); p.add_argument('count', type=int)
    p.add_argument('min', type=int); p.add_argument('max', type=int); p.add_argument('seed', type=int)
    p.set_defaults(fn=cmd_gen_small)
    a = ap.parse_args()
    a.fn(a)


if __name__ == '__main__':
    main()
