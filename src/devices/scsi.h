/* SPDX-License-Identifier: MIT */
/* scsi.h: SCSI constants of the virtio-scsi model, shared with its tests. */
#ifndef SBVM_DEVICES_SCSI_H
#define SBVM_DEVICES_SCSI_H

#include <stdint.h>

#define SCSI_MAX_TARGET 63 /* the adapter answers a scan of 64 targets */
#define SCSI_SENSE_LEN  18 /* fixed-format sense data */

#define SCSI_GOOD            0x00
#define SCSI_CHECK_CONDITION 0x02

#define SCSI_KEY_NO_SENSE        0x0
#define SCSI_KEY_MEDIUM_ERROR    0x3
#define SCSI_KEY_HARDWARE_ERROR  0x4
#define SCSI_KEY_ILLEGAL_REQUEST 0x5
#define SCSI_KEY_DATA_PROTECT    0x7

#define SCSI_ASC_INVALID_OPCODE    0x20
#define SCSI_ASC_LBA_OUT_OF_RANGE  0x21
#define SCSI_ASC_INVALID_FIELD     0x24
#define SCSI_ASC_LUN_NOT_SUPPORTED 0x25
#define SCSI_ASC_WRITE_PROTECTED   0x27

/* Fixed-format sense data (SCSI_SENSE_LEN bytes at s). */
void scsi_sense_fixed(uint8_t *s, uint8_t key, uint8_t asc, uint8_t ascq);
/* A command's name for traces ("READ(10)"); "?" when unknown. */
const char *scsi_op_name(uint8_t op);
/* The target and LUN an 8-byte virtio-scsi LUN field names; -1 when it is
 * not a single-level LUN on bus 1. */
int scsi_parse_lun(const uint8_t lun[8], unsigned *target, unsigned *lun_out);

#endif
