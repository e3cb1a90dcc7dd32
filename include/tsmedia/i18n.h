/* Layer: util, below all (core/util/log.c). */
#ifndef TSMEDIA_I18N_H
#define TSMEDIA_I18N_H

#include <libintl.h>

/* The gettext domain of every message of tsmedia and tsmediafs (po/). */
#define TSM_TEXTDOMAIN "tsmedia"

/* Texts not printed through tsm_log (which translates its format itself). */
#define _(s) dgettext(TSM_TEXTDOMAIN, s)

/* setlocale for LC_CTYPE and LC_MESSAGES (only), and bind the domain to
 * TEXTDOMAINDIR, else the installed locale dir; first thing in main(). */
void tsm_i18n_init(void);

#endif
