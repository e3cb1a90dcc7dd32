#!/usr/bin/python3
"""Writes Configuration Manager application digests for the tests, to the shape
core/import/app_xml.c cites (the AppMgmtDigest as SMS_Application.SDMPackageXML
holds it): an Application listing its deployment types in priority order, then
each DeploymentType with Title, Technology, Installer/Contents/Content/File,
CustomData/InstallCommandLine, Dependencies and Supersedes rules.

  appgen.py SPEC.json OUTDIR

SPEC: {"scope": "ScopeId_<GUID>", "apps": [APP...]} where APP is
  {"file": "a.xml", "guid": "...", "title": "A", "object": false,
   "dts": [{"guid": "...", "title": "...", "tech": "MSI", "command": "...",
            "contents": [{"guid": "...", "files": [["setup.msi", 12]]}],
            "groups": [{"name": "G", "deps": [[APP_GUID, DT_GUID, "Required"]]}],
            "supersedes": [[APP_GUID, DT_GUID, "Prohibited"]]}]}
"object": true wraps the digest in a console export's object.xml.  Content
folders are written under OUTDIR/content/Content_<guid>/ with files of the
given sizes (deterministic bytes from the name).
"""
import hashlib
import json
import os
import sys
from xml.sax.saxutils import escape, quoteattr

NS = "http://schemas.microsoft.com/SystemCenterConfigurationManager/2009/AppMgmtDigest"
RULES = "http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/06/14/Rules"


def ref(scope, kind, guid):
    return 'AuthoringScopeId=%s LogicalName=%s Version="1"' % (quoteattr(scope), quoteattr("%s_%s" % (kind, guid)))


def intent(scope, app, dt, state):
    return ('<DeploymentTypeIntentExpression DesiredState=%s>'
            '<DeploymentTypeApplicationReference %s/><DeploymentTypeReference %s/>'
            '</DeploymentTypeIntentExpression>' % (quoteattr(state), ref(scope, "Application", app),
                                                   ref(scope, "DeploymentType", dt)))


def data(name, size):
    out, seed = b"", name.encode()
    while len(out) < size:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return out[:size]


def digest(scope, app, outdir):
    x = ['<?xml version="1.0" encoding="utf-16"?>\n<AppMgmtDigest xmlns="%s" '
         'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' % NS]
    x.append('<Application %s>' % ref(scope, "Application", app["guid"]).replace('Version="1"', 'Version="%d"' % app.get("revision", 1)))
    x.append('<DisplayInfo DefaultLanguage="en-US"><Info Language="en-US"><Title>%s</Title></Info></DisplayInfo>' % escape(app["title"]))
    x.append('<DeploymentTypes>')
    for dt in app["dts"]:
        x.append('<DeploymentType %s/>' % ref(scope, "DeploymentType", dt["guid"]))
    x.append('</DeploymentTypes><Title ResourceId="Res_1">%s</Title>'
             '<Publisher ResourceId="Res_2">%s</Publisher><SoftwareVersion ResourceId="Res_3">%s</SoftwareVersion>'
             '</Application>' % (escape(app["title"]), escape(app.get("publisher", "Contoso")), escape(app.get("version", "1.0"))))
    for dt in app["dts"]:
        x.append('<DeploymentType %s><Title ResourceId="Res_4">%s</Title>' % (ref(scope, "DeploymentType", dt["guid"]), escape(dt["title"])))
        x.append('<DeploymentTechnology>GLOBAL/%sDeploymentTechnology</DeploymentTechnology>'
                 '<Technology>%s</Technology><Hosting>Native</Hosting>' % (dt.get("tech", "Script"), dt.get("tech", "Script")))
        x.append('<Installer Technology=%s><ExecutionContext>System</ExecutionContext><Contents>' % quoteattr(dt.get("tech", "Script")))
        for c in dt.get("contents", []):
            cid = "Content_" + c["guid"]
            x.append('<Content ContentId=%s Version="%d">' % (quoteattr(cid), c.get("version", 1)))
            cdir = os.path.join(outdir, "content", cid)
            for name, size in c["files"]:
                x.append('<File Name=%s Size="%d"/>' % (quoteattr(name), size))
                if c.get("write", True) and "/" not in name and "\\" not in name and name not in (".", ".."):
                    os.makedirs(cdir, exist_ok=True)
                    with open(os.path.join(cdir, name), "wb") as f:
                        f.write(data(cid + name, size))
            x.append('<Location>\\\\server\\share\\%s\\</Location><PeerCache>true</PeerCache>'
                     '<OnFastNetwork>Download</OnFastNetwork><OnSlowNetwork>DoNothing</OnSlowNetwork></Content>' % escape(app["title"]))
        x.append('</Contents><CustomData><InstallCommandLine>%s</InstallCommandLine></CustomData></Installer>' % escape(dt.get("command", "setup.cmd")))
        if dt.get("groups"):
            x.append('<Dependencies>')
            for i, g in enumerate(dt["groups"]):
                x.append('<DeploymentTypeRule xmlns="%s" id="DTRule_%d" Severity="Critical" NonCompliantWhenSettingIsNotFound="false">'
                         '<Annotation><DisplayName Text=%s/><Description Text=""/></Annotation>'
                         '<DeploymentTypeExpression><Operator>Or</Operator><Operands>' % (RULES, i, quoteattr(g["name"])))
                for a, d, state in g["deps"]:
                    x.append(intent(scope, a, d, state))
                x.append('</Operands></DeploymentTypeExpression></DeploymentTypeRule>')
            x.append('</Dependencies>')
        if dt.get("supersedes"):
            x.append('<Supersedes>')
            for i, (a, d, state) in enumerate(dt["supersedes"]):
                x.append('<DeploymentTypeRule xmlns="%s" id="SupRule_%d" Severity="None" NonCompliantWhenSettingIsNotFound="false">'
                         '<Annotation><DisplayName Text=""/></Annotation>%s</DeploymentTypeRule>' % (RULES, i, intent(scope, a, d, state)))
            x.append('</Supersedes>')
        x.append('</DeploymentType>')
    x.append('</AppMgmtDigest>')
    return "".join(x)


def main():
    spec = json.load(open(sys.argv[1]))
    outdir = sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    for app in spec["apps"]:
        text = digest(spec["scope"], app, outdir)
        if app.get("object"):
            text = ('<?xml version="1.0" encoding="utf-8"?>\r\n<INSTANCE CLASSNAME="SMS_Application">'
                    '<PROPERTY NAME="LocalizedDisplayName" TYPE="string"><VALUE>%s</VALUE></PROPERTY>'
                    '<PROPERTY NAME="SDMPackageXML" TYPE="string"><VALUE>%s</VALUE></PROPERTY></INSTANCE>'
                    % (escape(app["title"]), escape(text)))
        with open(os.path.join(outdir, app["file"]), "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
