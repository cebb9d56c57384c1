/*
 * The student's copy of a lesson, answers hidden (`mmsim handout`).
 */
#ifndef MMSIM_SIM_HANDOUT_H
#define MMSIM_SIM_HANDOUT_H

#include <stdio.h>

/* Writes FILE's handout to out. Returns the exit status: 0, or 2 when FILE does not parse
 * or marks no answer (reported on err). */
int handout_write(const char *file, FILE *out, FILE *err);

#endif
