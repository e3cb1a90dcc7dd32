/* How guessable a media password is against Configuration Manager's key derivation, which
 * tsmedia cannot change: one SHA-1 of the password, no salt, no iterations (cmcrypt.h), so
 * hashcat's modes 19850 (AES-128) and 19851 (AES-256) try billions of guesses a second on one
 * GPU.  The number of guesses comes from zxcvbn (Debian's libzxcvbn, zxcvbn-c); the rate and
 * how the two make a time are in cmpassword.c and the README ("Media passwords"). */
#ifndef TSMEDIA_MEDIA_CMPASSWORD_H
#define TSMEDIA_MEDIA_CMPASSWORD_H

#include <stdbool.h>

#include "media/cmcrypt.h"

struct tsm_cm_password_estimate {
	double bits;          /* zxcvbn: log2 of the guesses an informed attacker needs */
	double rate;          /* guesses a second assumed for one GPU and this cipher */
	double seconds;       /* 2^bits / rate */
	char time_text[64];   /* "3 hours", "41 years", ... */
};

/* Below this many seconds a password is weak: one year. */
#define TSM_CM_PASSWORD_MIN_SECONDS (365.25 * 86400)

/* Estimates @password (UTF-8); @user_words (NULL-terminated, or NULL) are words an attacker
 * would try first: the site code, the media's name. */
void tsm_cm_password_estimate(const char *password, enum tsm_cm_cipher cipher,
			      const char *const *user_words,
			      struct tsm_cm_password_estimate *est_ret);

/* 0 when @password would take a GPU a year or more; otherwise -EKEYREJECTED with the estimate
 * in the message, unless @allow_weak (then a warning with it, and 0). */
int tsm_cm_password_check(const char *password, enum tsm_cm_cipher cipher,
			  const char *const *user_words, bool allow_weak,
			  struct tsm_cm_password_estimate *est_ret);

#endif
