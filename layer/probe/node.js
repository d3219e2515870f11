'use strict';
/*
 * leakwatch's Node.js probe, loaded with `node --require` (NODE_OPTIONS) by /opt/leakwatch/wrapper.
 *
 * After each major garbage collection V8 reports (a PerformanceObserver on 'gc' entries,
 * delivered in batches after the collection), and at most every 0.1 s after scavenges, it writes
 * the heap as V8 sees it right after that collection into one small file per process,
 * $LEAKWATCH_PROBE_DIR/<pid>.probe, which leakwatch reads with one pread at each invocation
 * boundary: the heap used after the last collection and after the last major one (mark-compact:
 * what the heap retains), the heap V8 holds from the system, its limit, and the memory outside
 * the heap that JavaScript objects own (external, ArrayBuffers and Buffers among it). No socket, no message per invocation, nothing printed.
 *
 * The rule: the function must never notice. Everything runs inside try/catch; any failure (the
 * file cannot be opened or written, an API missing from this Node.js) switches the probe off for
 * good, silently, and leakwatch falls back to resident memory. The file has a fixed size and is
 * rewritten in place (pwrite at offset 0), so it never grows; its text ends with a checksum, so
 * that leakwatch can tell a torn read (it reads while the runtime runs) from a whole one.
 * Worker threads load preloads too: only the main thread reports, for its process.
 */
(function leakwatchProbe() {
    const FILE_BYTES = 4096;
    let fd = -1;
    let observer = null;
    try {
        const dir = process.env.LEAKWATCH_PROBE_DIR;
        if (!dir || dir[0] !== '/' || !require('worker_threads').isMainThread)
            return;
        const fs = require('fs');
        const v8 = require('v8');
        const perf = require('perf_hooks');
        const MAJOR = perf.constants.NODE_PERFORMANCE_GC_MAJOR;
        const MINOR = perf.constants.NODE_PERFORMANCE_GC_MINOR;
        // Who this file belongs to: pids are reused, so leakwatch also checks the start time
        // (field 22 of /proc/self/stat, after the command name, which may hold spaces).
        const stat = fs.readFileSync('/proc/self/stat', 'latin1');
        const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
        if (!/^[0-9]+$/.test(start || ''))
            return;
        const c = fs.constants;
        fd = fs.openSync(`${dir}/${process.pid}.probe`,
                         c.O_WRONLY | c.O_CREAT | c.O_TRUNC | c.O_NOFOLLOW, 0o600);
        const buf = Buffer.alloc(FILE_BYTES);
        const s = {
            updates: 0, major: 0, minor: 0, heapAfterGc: -1, heapAfterMajor: -1,
            committed: 0, limit: 0, external: -1, arrayBuffers: -1, lastWrite: 0,
        };
        // After scavenges alone, at most one write per this many ms: a handler that makes
        // garbage scavenges every invocation or two, and each write reads the heap's figures
        // and writes 4 KiB. After a major collection, always.
        const MINOR_WRITE_MS = 100;
        const now = () => perf.performance.now();

        const off = () => {
            try {
                if (observer)
                    observer.disconnect();
            } catch (e) { /* already off */ }
            observer = null;
            if (fd >= 0) {
                try {
                    fs.closeSync(fd);
                } catch (e) { /* nothing to do */ }
            }
            fd = -1;
        };

        // FNV-1a, 32 bits, over the bytes before the "end" line.
        const fnv1a = (text) => {
            let h = 0x811c9dc5;
            for (let i = 0; i < text.length; i++)
                h = Math.imul(h ^ (text.charCodeAt(i) & 0xff), 0x01000193) >>> 0;
            return h.toString(16).padStart(8, '0');
        };

        const write = () => {
            s.updates++;
            let t = `leakwatch-probe 1\nruntime node\npid ${process.pid}\nstart ${start}\n` +
                    `updates ${s.updates}\ngc_major ${s.major}\ngc_minor ${s.minor}\n` +
                    `heap_resident ${s.committed}\nheap_limit ${s.limit}\n`;
            if (s.heapAfterGc >= 0)
                t += `heap_after_gc ${s.heapAfterGc}\n`;
            if (s.heapAfterMajor >= 0)
                t += `heap_after_major ${s.heapAfterMajor}\n`;
            if (s.external >= 0)
                t += `external ${s.external}\n`;
            if (s.arrayBuffers >= 0)
                t += `array_buffers ${s.arrayBuffers}\n`;
            t += `end ${fnv1a(t)}\n`;
            buf.fill(0);
            buf.write(t, 0, 'latin1');
            fs.writeSync(fd, buf, 0, FILE_BYTES, 0);
            s.lastWrite = now();
        };

        const heap = () => {
            const h = v8.getHeapStatistics();
            s.committed = h.total_physical_size;
            s.limit = h.heap_size_limit;
            if (typeof h.external_memory === 'number')
                s.external = h.external_memory;
            return h.used_heap_size;
        };

        heap();
        write();
        observer = new perf.PerformanceObserver((list) => {
            try {
                let major = false;
                let any = false;
                for (const e of list.getEntries()) {
                    const kind = e.detail ? e.detail.kind : e.kind;
                    if (kind === MAJOR) {
                        s.major++;
                        major = any = true;
                    } else if (kind === MINOR) {
                        s.minor++;
                        any = true;
                    }
                }
                if (!any || (!major && now() - s.lastWrite < MINOR_WRITE_MS))
                    return;
                s.heapAfterGc = heap();
                if (major) {
                    s.heapAfterMajor = s.heapAfterGc;
                    // ArrayBuffers (Buffers among them) only here: the call also reads the
                    // process's resident size, a file read, too dear for every scavenge.
                    s.arrayBuffers = process.memoryUsage().arrayBuffers;
                }
                write();
            } catch (e) {
                off();
            }
        });
        observer.observe({ entryTypes: ['gc'] });
    } catch (e) {
        try {
            if (observer)
                observer.disconnect();
            if (fd >= 0)
                require('fs').closeSync(fd);
        } catch (e2) { /* nothing to do */ }
    }
})();
