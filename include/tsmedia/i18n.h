/* Layer: util, below all (core/util/log.c). */
#ifndef TSMEDIA_I18N_H
#define TSMEDIA_I18N_H

#include <libintl.h>

/* The gettext domain of every message of tsmedia and tsmediafs (po/). */
#define TSM_TEXTDOMAIN "tsmedia"

/* Texts not printed through tsm_log (which translates its format itself). */
#define _(s) dgettext(TSM_TEXTDOMAIN, s)

/* Marks a text for the catalogue where it cannot be translated yet (a static
 * initializer such as a help text); _() translates it where it is printed. */
#define N_(s) s

/* setlocale for LC_CTYPE and LC_MESSAGES (only), and bind the domain to
 * TEXTDOMAINDIR, else the installed locale dir; first thing in main(). */
void tsm_i18n_init(void);

#endif
