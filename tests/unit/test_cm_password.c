/* Media password strength (core/media/cmpassword.c): zxcvbn's guesses against one GPU running
 * hashcat mode 19850/19851; weak passwords refused with the estimate in the message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "media/cmpassword.h"
#include "test_cm_log.h"

static void test_weak_refused(void **state)
{
	struct tsm_cm_password_estimate est;
	(void)state;

	assert_int_equal(tsm_cm_password_check("Password1", TSM_CM_AES256, NULL, false, &est),
			 -EKEYREJECTED);
	assert_message("media password refused: about 2^");
	assert_message("hashcat mode 19851");
	assert_message("--allow-weak-password");
	assert_true(est.seconds < 1);
	assert_string_equal(est.time_text, "under a second");
	/* The estimate is the message's: guesses over the rate. */
	assert_true(fabs(est.seconds - pow(2, est.bits) / est.rate) <= 1e-9 * est.seconds + 1e-12);

	messages[0] = '\0';
	assert_int_equal(tsm_cm_password_check("Tr0ub4dor&3", TSM_CM_AES128, NULL, false, &est),
			 -EKEYREJECTED);
	assert_message("hashcat mode 19850");
	assert_message(est.time_text);
	assert_true(est.seconds > 60 && est.seconds < TSM_CM_PASSWORD_MIN_SECONDS);
}

static void test_allow_weak(void **state)
{
	(void)state;
	assert_int_equal(tsm_cm_password_check("Password1", TSM_CM_AES256, NULL, true, NULL), 0);
	assert_message("media password is weak");
	assert_message("kept because of --allow-weak-password");
}

static void test_strong_accepted(void **state)
{
	struct tsm_cm_password_estimate est;
	(void)state;

	assert_int_equal(tsm_cm_password_check("pineapple dishwasher orbit galaxy", TSM_CM_AES256,
					       NULL, false, &est), 0);
	assert_true(est.seconds >= TSM_CM_PASSWORD_MIN_SECONDS);
	assert_true(strstr(est.time_text, "years") != NULL);
	assert_string_equal(messages, "");
}

static void test_user_words(void **state)
{
	static const char *const words[] = { "contoso", "PS1", NULL };
	struct tsm_cm_password_estimate plain, informed;
	(void)state;

	/* An attacker who knows the site tries its names first. */
	tsm_cm_password_estimate("Contoso-PS1-Media", TSM_CM_AES256, NULL, &plain);
	tsm_cm_password_estimate("Contoso-PS1-Media", TSM_CM_AES256, words, &informed);
	assert_true(informed.bits < plain.bits);
}

static void test_rates(void **state)
{
	struct tsm_cm_password_estimate a128, a256;
	(void)state;

	/* AES-256 costs the attacker two more SHA-1 blocks a guess: fewer guesses a second. */
	tsm_cm_password_estimate("x", TSM_CM_AES128, NULL, &a128);
	tsm_cm_password_estimate("x", TSM_CM_AES256, NULL, &a256);
	assert_true(a128.rate > a256.rate);
	assert_true(a256.rate >= 1e9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_weak_refused, setup),
		cmocka_unit_test_setup(test_allow_weak, setup),
		cmocka_unit_test_setup(test_strong_accepted, setup),
		cmocka_unit_test_setup(test_user_words, setup),
		cmocka_unit_test_setup(test_rates, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
