/* machine: a JSON fingerprint of the machine a run happens on (OS, kernel, architecture, CPU
 * model, logical CPUs, memory), read from uname and /proc. It probes no speed ceilings (the
 * measurement harness adds those). */
#ifndef TS_MODELS_MACHINE_H
#define TS_MODELS_MACHINE_H

#include <stddef.h>

/* Writes a one-line JSON object into buf (always NUL-terminated; fields it cannot read are
 * left out). Returns buf. */
char *machine_fingerprint_json(char *buf, size_t size);

/* The CPU model name from /proc/cpuinfo ("" when unknown) into buf. Returns buf. */
char *machine_cpu_model(char *buf, size_t size);

#endif
