/* SPDX-License-Identifier: MIT */
/*
 * driver.h: the sandboxvm driver ABI. Self-contained (C11 and libc
 * headers only) and versioned.
 *
 * A driver is a shared object (.so) exporting one resident descriptor,
 * `const struct sbvm_resident sbvm_resident`, that names it and gives its
 * init and unit operations. `sandboxvm run --device SPEC -r DRIVER.so ...
 * -t TEST` loads the drivers, in order, into the sandbox the test program
 * runs in; each init receives the driver interface (struct sbvm_driver_if):
 * tracked memory; DMA memory with device-visible addresses; the PCI bus
 * (enumeration, configuration space, BAR access) on which the host's device
 * models sit; interrupts, delivered on a worker thread; tasks, timers,
 * events and locks; logging; and units, registered under a name, which the
 * test program (and other drivers) open and send I/O requests to.
 *
 * Everything a driver allocates or attaches through the interface is
 * charged to it (its ledger): what it leaves behind when it is unloaded is
 * listed and reaped, and freeing or closing what it does not own is refused
 * and reported. A driver runs in the sandboxed test process: a crash in its
 * init, its I/O path, an interrupt handler or a task ends that sandbox with
 * a crash report (the backtrace names the .so and the function); the host
 * and its device models are in another process and are not reached. The
 * devices see only DMA memory, and judge every descriptor and length a
 * driver gives them (docs/DRIVERS.md).
 *
 * Conventions: functions return 0 (or a count) or a negative errno; the
 * `sbvm_driver *` argument is the calling driver (its init's first
 * argument), which the runtime charges.
 *
 * The client side (the test program, and drivers layered on others) is at
 * the end: sbvm_drivers_load() and sbvm_unit_*(), in libsbvm-guest.a.
 */
#ifndef SANDBOXVM_DRIVER_H
#define SANDBOXVM_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SBVM_DRIVER_API          __attribute__((visibility("default")))
#define SBVM_DRIVER_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SBVM_DRIVER_API
#define SBVM_DRIVER_PRINTF(f, a)
#endif

/*
 * The ABI version. The major changes when an existing structure or meaning
 * changes (a driver built for another major is refused); the minor grows
 * when something is appended: the interface table only grows at its end,
 * and its `size` says how much of it the runtime provides.
 */
#define SBVM_DRIVER_ABI_MAJOR 1
#define SBVM_DRIVER_ABI_MINOR 0

/* "SBVMDRV1" read as a little-endian 64-bit number. */
#define SBVM_RESIDENT_MAGIC UINT64_C(0x3156524456424253)

/* The symbol every driver exports. */
#define SBVM_RESIDENT_SYMBOL "sbvm_resident"

typedef struct sbvm_driver sbvm_driver; /* one loaded driver */
typedef struct sbvm_pci sbvm_pci;       /* a device on the synthetic PCI bus */
typedef struct sbvm_irq sbvm_irq;       /* an attached interrupt handler */
typedef struct sbvm_task sbvm_task;     /* a thread of a driver */
typedef struct sbvm_timer sbvm_timer;
typedef struct sbvm_event sbvm_event; /* a counting event: signal, wait */
typedef struct sbvm_lock sbvm_lock;   /* a mutex */
typedef struct sbvm_unit sbvm_unit;   /* an open unit of some driver */

/* ------------------------------------------------------------------------ */
/* I/O requests                                                             */

enum sbvm_io_command {
    SBVM_IO_READ = 1,  /* length bytes at offset into data */
    SBVM_IO_WRITE = 2, /* length bytes of data at offset */
    SBVM_IO_FLUSH = 3, /* make earlier writes durable */
    SBVM_IO_INFO = 4,  /* data: a struct sbvm_unit_info, length its size */
    SBVM_IO_SCSI = 5,  /* SCSI pass-through: io->scsi; data/length its data phase */
};

/* The answer to SBVM_IO_INFO. */
struct sbvm_unit_info {
    uint64_t blocks;     /* addressable blocks */
    uint32_t block_size; /* bytes; offsets and lengths are multiples of it */
    uint32_t flags;      /* SBVM_UNIT_* */
    char model[48];      /* NUL-terminated, for people */
};
#define SBVM_UNIT_READONLY 1u

/* A SCSI command carried through a driver to its device. */
enum sbvm_scsi_dir {
    SBVM_SCSI_NONE = 0,
    SBVM_SCSI_IN = 1,  /* data from the device into io->data */
    SBVM_SCSI_OUT = 2, /* data from io->data to the device */
};
struct sbvm_scsi {
    uint8_t cdb[32];
    uint8_t cdb_len;
    uint8_t dir;      /* enum sbvm_scsi_dir */
    uint8_t status;   /* out: the SCSI status (0 GOOD, 2 CHECK CONDITION, ...) */
    uint8_t response; /* out: the transport's verdict (virtio-scsi response: 0 OK, 3 BAD_TARGET) */
    uint8_t target;   /* which target and LUN (the unit's by default; a scan may name others) */
    uint8_t pad;
    uint16_t lun;
    uint32_t sense_len; /* out: bytes of sense */
    uint32_t residual;  /* out: bytes of the data phase not transferred */
    uint8_t sense[96];  /* out */
};

/*
 * One request. The client fills command, offset, length, data (and scsi);
 * the driver sets actual and completes it with an error code (0 or a
 * negative errno: -EIO, -EINVAL for a bad offset, -EROFS, -ECANCELED when
 * aborted, -ENOTSUP). Zero it before use; `size` is sizeof(struct sbvm_io).
 */
struct sbvm_io {
    uint32_t size;
    uint16_t command; /* enum sbvm_io_command */
    uint16_t flags;   /* SBVM_IO_F_* */
    uint64_t offset;  /* bytes */
    uint64_t length;  /* bytes */
    void *data;
    uint64_t actual; /* bytes moved */
    int32_t error;   /* set when it completes */
    uint32_t pad;
    struct sbvm_scsi *scsi;
    void *driver_ctx[4]; /* the driver's own, while it holds the request */
    uint64_t runtime[8]; /* the runtime's: do not touch */
};

/*
 * More requests follow at once: the driver may hold back the device's
 * notification until a request without this flag (a batch, as a block
 * layer's plug). A client must end every batch with one without it.
 */
#define SBVM_IO_F_MORE 1u

/* begin_io's answer when the request will complete later, by io_done(). */
#define SBVM_IO_PENDING 1

/* ------------------------------------------------------------------------ */
/* What a driver exports                                                    */

struct sbvm_driver_if;

/* A unit's operations; unit_ctx is what the driver registered it with. */
struct sbvm_resident {
    uint64_t magic;     /* SBVM_RESIDENT_MAGIC */
    uint16_t abi_major; /* SBVM_DRIVER_ABI_MAJOR */
    uint16_t abi_minor; /* SBVM_DRIVER_ABI_MINOR */
    uint32_t version;   /* the driver's own, for reports */
    const char *name;   /* "virtio-blk": [A-Za-z0-9._-], at most 31 bytes */
    const char *id;     /* a line for people, or NULL */
    /* Finds its devices and registers its units: 0, or a negative errno
     * (the driver is then unloaded, what it left reaped). */
    int (*init)(sbvm_driver *d, const struct sbvm_driver_if *ifc);
    /* Before unloading (optional): stop tasks and timers, detach. */
    void (*expunge)(sbvm_driver *d);
    /* A client opens and closes a unit (both optional). */
    int (*open)(sbvm_driver *d, void *unit_ctx);
    void (*close)(sbvm_driver *d, void *unit_ctx);
    /* Starts a request: 0 when it completed already (io->error set), or
     * SBVM_IO_PENDING when io_done() will say; a negative errno refuses it. */
    int (*begin_io)(sbvm_driver *d, void *unit_ctx, struct sbvm_io *io);
    /* Asks that a pending request end soon (with -ECANCELED, by io_done()):
     * 0, or -ENOENT when it is not the driver's any more. */
    int (*abort_io)(sbvm_driver *d, void *unit_ctx, struct sbvm_io *io);
};

/* ------------------------------------------------------------------------ */
/* The driver interface                                                     */

#define SBVM_LOG_ERR   3u
#define SBVM_LOG_WARN  4u
#define SBVM_LOG_INFO  6u
#define SBVM_LOG_DEBUG 7u

/* What the bus says about one device. */
struct sbvm_pci_info {
    uint8_t slot;
    uint8_t revision;
    uint16_t vendor, device;
    uint16_t subsys_vendor, subsys_id;
    uint32_t class_code; /* base << 16 | sub << 8 | prog-if */
};

typedef void (*sbvm_irq_fn)(void *ctx);
typedef void (*sbvm_task_fn)(void *arg);
typedef void (*sbvm_timer_fn)(void *arg);

struct sbvm_driver_if {
    uint32_t abi;  /* SBVM_DRIVER_ABI_MAJOR << 16 | minor, the runtime's */
    uint32_t size; /* sizeof(struct sbvm_driver_if) of the runtime */

    /* Logging: one line, to the host's log and the test's stderr. */
    void (*log)(sbvm_driver *d, unsigned level, const char *fmt, ...) SBVM_DRIVER_PRINTF(3, 4);

    /* Memory, charged to the driver: zeroed; NULL when out of memory.
     * free() of what the driver does not own is refused (-EINVAL). */
    void *(*alloc)(sbvm_driver *d, size_t size);
    int (*free)(sbvm_driver *d, void *p);

    /*
     * DMA memory: bytes the devices can reach, at *dev_addr (the address to
     * give them: not a pointer). align: a power of two up to 4096 (0: 64).
     */
    void *(*dma_alloc)(sbvm_driver *d, size_t size, size_t align, uint64_t *dev_addr);
    int (*dma_free)(sbvm_driver *d, void *p);
    /* Whether [p, p + len) is DMA memory (any driver's, or a buffer the
     * client got from sbvm_dma_alloc()): 0 and its device address, so a
     * driver can hand a client's buffer to the device without a copy;
     * -EFAULT otherwise. */
    int (*dma_addr)(const void *p, size_t len, uint64_t *dev_addr);

    /* The PCI bus: how many devices, each one's identity and handle. */
    int (*pci_count)(sbvm_driver *d);
    int (*pci_get)(sbvm_driver *d, unsigned index, sbvm_pci **out, struct sbvm_pci_info *info);
    /* Configuration space (width 1, 2 or 4, aligned) and BARs (also 8). */
    int (*cfg_read)(sbvm_pci *p, unsigned off, unsigned width, uint32_t *val);
    int (*cfg_write)(sbvm_pci *p, unsigned off, unsigned width, uint32_t val);
    int (*bar_read)(sbvm_pci *p, unsigned bar, uint64_t off, unsigned width, uint64_t *val);
    int (*bar_write)(sbvm_pci *p, unsigned bar, uint64_t off, unsigned width, uint64_t val);

    /* A handler for the device's interrupt line, run on the interrupt
     * worker thread each time the line rises. */
    int (*irq_attach)(sbvm_driver *d, sbvm_pci *p, sbvm_irq_fn fn, void *ctx, sbvm_irq **out);
    int (*irq_detach)(sbvm_driver *d, sbvm_irq *irq);

    /* Tasks: a thread running fn(arg); join waits for it to return. */
    int (*task_start)(sbvm_driver *d, const char *name, sbvm_task_fn fn, void *arg,
                      sbvm_task **out);
    int (*task_join)(sbvm_driver *d, sbvm_task *t);
    /* Timers: fn(arg) on the timer thread after delay_ns, then every
     * period_ns (0: once). */
    int (*timer_start)(sbvm_driver *d, uint64_t delay_ns, uint64_t period_ns, sbvm_timer_fn fn,
                       void *arg, sbvm_timer **out);
    int (*timer_stop)(sbvm_driver *d, sbvm_timer *t);
    /* Events and locks. event_wait: 0, or -ETIMEDOUT (timeout < 0: none). */
    int (*event_new)(sbvm_driver *d, sbvm_event **out);
    int (*event_free)(sbvm_driver *d, sbvm_event *e);
    void (*event_signal)(sbvm_event *e);
    int (*event_wait)(sbvm_event *e, int64_t timeout_ns);
    int (*lock_new)(sbvm_driver *d, sbvm_lock **out);
    int (*lock_free)(sbvm_driver *d, sbvm_lock *l);
    void (*lock)(sbvm_lock *l);
    void (*unlock)(sbvm_lock *l);
    uint64_t (*now_ns)(void); /* monotonic */

    /* Units: name (as the resident's) and number, with the driver's
     * context for the unit operations. */
    int (*unit_add)(sbvm_driver *d, const char *name, unsigned unit, void *unit_ctx);
    /* Completes a request begin_io left pending. */
    void (*io_done)(sbvm_driver *d, struct sbvm_io *io, int error);

    /* Another driver's units, for layering (a partition driver over a
     * disk driver): the same calls the test program has. */
    int (*unit_open)(sbvm_driver *d, const char *name, unsigned unit, sbvm_unit **out);
    int (*unit_close)(sbvm_driver *d, sbvm_unit *u);
    int (*do_io)(sbvm_unit *u, struct sbvm_io *io);
    int (*send_io)(sbvm_unit *u, struct sbvm_io *io);
    int (*wait_io)(struct sbvm_io *io, int64_t timeout_ns);
    int (*abort_io)(struct sbvm_io *io);
};

/* ------------------------------------------------------------------------ */
/* The client side (libsbvm-guest.a)                                        */

#ifndef SBVM_GUEST_API
#if defined(__GNUC__)
#define SBVM_GUEST_API __attribute__((visibility("default")))
#else
#define SBVM_GUEST_API
#endif
#endif

/*
 * Connects to the host (sbvm_hello, if not done yet), loads the drivers
 * the host names (SBVM_DRIVERS), in order, and runs each one's init. The
 * number loaded, or a negative errno (the first init that failed is
 * reported in the log and its driver unloaded; later ones still load).
 */
SBVM_GUEST_API int sbvm_drivers_load(void);
/*
 * Unloads every driver (expunge, then its ledger: what it left behind is
 * listed in the host's report and reaped). Returns how many resources were
 * left behind, all drivers together.
 */
SBVM_GUEST_API int sbvm_drivers_unload(void);

/* Opens unit `unit` of the driver registered as `name`: -ENOENT when no
 * such unit, -EBUSY if its driver refused the open. */
SBVM_GUEST_API int sbvm_unit_open(const char *name, unsigned unit, sbvm_unit **out);
/* -EBADF for a handle that is not open (twice closed, never opened). */
SBVM_GUEST_API int sbvm_unit_close(sbvm_unit *u);
/* A request, waited for: io->error (0 or negative). */
SBVM_GUEST_API int sbvm_unit_io(sbvm_unit *u, struct sbvm_io *io);
/* Starts a request; sbvm_unit_wait() learns its end. */
SBVM_GUEST_API int sbvm_unit_send(sbvm_unit *u, struct sbvm_io *io);
/* 0 with io->error set, or -ETIMEDOUT (timeout_ns < 0: no limit). */
SBVM_GUEST_API int sbvm_unit_wait(struct sbvm_io *io, int64_t timeout_ns);
/* Whether a sent request has completed: 1 or 0. */
SBVM_GUEST_API int sbvm_unit_done(const struct sbvm_io *io);
/* Asks the driver to abort a sent request (it then completes, usually with
 * -ECANCELED): 0, or -ENOENT when it already completed. */
SBVM_GUEST_API int sbvm_unit_abort(struct sbvm_io *io);

/*
 * A buffer the devices can reach (DMA memory): requests whose data lies in
 * one need no copy by the drivers written here. NULL when out of memory
 * (or before sbvm_drivers_load()). Charged to the test program's ledger.
 */
SBVM_GUEST_API void *sbvm_dma_alloc(size_t size);
SBVM_GUEST_API int sbvm_dma_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
