/* SPDX-License-Identifier: MIT */
/** \file nc2/nc2.h Umbrella header: includes the public API, nothing else. */
#ifndef NC2_NC2_H
#define NC2_NC2_H

#include <nc2/common.h>
#include <nc2/version.h>
#include <nc2/wire.h>
#include <nc2/frag.h>
#include <nc2/reloc.h>

#endif /* NC2_NC2_H */
