/* Media password strength (see cmpassword.h).
 *
 * The attacker: the media file's header and first block are all hashcat needs
 * (configmgr-cryptderivekey-hashcat-module: "$sccm$aes128$" + the first 40 bytes of the file,
 * mode 19850, "not salted, not iterated"; pxethiefup: mode 19851 for AES-256).  A guess costs
 * SHA-1 of the password (one SHA-1 block for a password under 28 characters), SHA-1 of the
 * 64-byte 0x36 buffer (two blocks, with SHA-1's padding), one AES block: three SHA-1 blocks for
 * AES-128; AES-256 adds the 0x5C buffer, five blocks.  hashcat's published benchmark for plain
 * SHA-1 (mode 100, one block a guess) on one NVIDIA GeForce RTX 5070 Ti is 28,593.9 MH/s
 * (hashcat 6.2.6, `hashcat -b`, github.com/dosoos/hashcat_speeds), so one such GPU tries about
 * 9.5e9 AES-128 or 5.7e9 AES-256 guesses a second.  We assume 1e10 for AES-128 and 6e9 for
 * AES-256: rounded up, one GPU, no better kernels than plain SHA-1.
 *
 * The guesses: zxcvbn's estimate (bits = log2 of the guesses an attacker who tries common
 * passwords, names, words, keyboard patterns, dates and their variants first would need).
 * Time = 2^bits / rate; under a year is weak. */
#include "media/cmpassword.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

#include <zxcvbn.h>

#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

static double guess_rate(enum tsm_cm_cipher cipher)
{
	return cipher == TSM_CM_AES128 ? 1e10 : 6e9;
}

static void format_duration(double s, char *out, size_t n)
{
	static const struct {
		double secs;
		const char *unit;
	} units[] = {
		{ 365.25 * 86400 * 1e6, N_("million years") }, { 365.25 * 86400, N_("years") },
		{ 86400, N_("days") }, { 3600, N_("hours") }, { 60, N_("minutes") },
		{ 1, N_("seconds") },
	};

	if (s < 1) {
		snprintf(out, n, "%s", _("under a second"));
		return;
	}
	if (s > 365.25 * 86400 * 1e12) {
		snprintf(out, n, "%s", _("over a million million years"));
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (s >= units[i].secs) {
			double v = s / units[i].secs;

			snprintf(out, n, v < 1000 ? "%.3g %s" : "%.0f %s", v, _(units[i].unit));
			return;
		}
	}
}

void tsm_cm_password_estimate(const char *password, enum tsm_cm_cipher cipher,
			      const char *const *user_words,
			      struct tsm_cm_password_estimate *est_ret)
{
	/* zxcvbn-c takes the user dictionary as a non-const array of const strings. */
	est_ret->bits = ZxcvbnMatch(password, (const char **)(uintptr_t)user_words, NULL);
	est_ret->rate = guess_rate(cipher);
	est_ret->seconds = pow(2.0, est_ret->bits) / est_ret->rate;
	format_duration(est_ret->seconds, est_ret->time_text, sizeof(est_ret->time_text));
}

int tsm_cm_password_check(const char *password, enum tsm_cm_cipher cipher,
			  const char *const *user_words, bool allow_weak,
			  struct tsm_cm_password_estimate *est_ret)
{
	struct tsm_cm_password_estimate est;
	const double need = log2(TSM_CM_PASSWORD_MIN_SECONDS * guess_rate(cipher));

	tsm_cm_password_estimate(password, cipher, user_words, &est);
	if (est_ret)
		*est_ret = est;
	if (est.seconds >= TSM_CM_PASSWORD_MIN_SECONDS)
		return 0;
	if (allow_weak) {
		tsm_warn("media password is weak: about 2^%.1f guesses, %s for one GPU at %.0e"
			 " guesses a second (hashcat mode %s); kept because of --allow-weak-password",
			 est.bits, est.time_text, est.rate,
			 cipher == TSM_CM_AES128 ? "19850" : "19851");
		return 0;
	}
	tsm_error("media password refused: about 2^%.1f guesses (zxcvbn), found in %s by one GPU"
		  " at %.0e guesses a second (hashcat mode %s against Configuration Manager's"
		  " unsalted SHA-1 key); a year needs 2^%.1f. Use a longer passphrase, or"
		  " --allow-weak-password", est.bits, est.time_text, est.rate,
		  cipher == TSM_CM_AES128 ? "19850" : "19851", need);
	return -EKEYREJECTED;
}
