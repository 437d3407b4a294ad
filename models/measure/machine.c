/* machine: reads uname(2), /proc/cpuinfo and /proc/meminfo into a small JSON object for the
 * runs table. Strings are JSON-escaped; nothing here fails a run. */
#include "models/measure/machine.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static void json_str(char *out, size_t size, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

static int read_field(const char *path, const char *key, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    int found = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) != 0)
            continue;
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        colon++;
        while (*colon == ' ' || *colon == '\t')
            colon++;
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(out, size, "%s", colon);
        found = 0;
        break;
    }
    fclose(f);
    return found;
}

char *machine_fingerprint_json(char *buf, size_t size)
{
    struct utsname u;
    char sys[200] = "", rel[200] = "", arch[100] = "", cpu[300] = "", raw[256];
    if (uname(&u) == 0) {
        json_str(sys, sizeof sys, u.sysname);
        json_str(rel, sizeof rel, u.release);
        json_str(arch, sizeof arch, u.machine);
    }
    if (read_field("/proc/cpuinfo", "model name", raw, sizeof raw) == 0)
        json_str(cpu, sizeof cpu, raw);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double mem_gib = 0;
    if (read_field("/proc/meminfo", "MemTotal", raw, sizeof raw) == 0) {
        double kib = 0;
        if (sscanf(raw, "%lf", &kib) == 1)
            mem_gib = kib / (1024.0 * 1024.0);
    }
    snprintf(buf, size,
             "{\"os\":\"%s\",\"kernel\":\"%s\",\"arch\":\"%s\",\"cpu\":\"%s\",\"cpus\":%ld,"
             "\"mem_gib\":%.1f}",
             sys, rel, arch, cpu, cpus, mem_gib);
    return buf;
}

char *machine_cpu_model(char *buf, size_t size)
{
    if (read_field("/proc/cpuinfo", "model name", buf, size) != 0 && size > 0)
        buf[0] = '\0';
    return buf;
}
