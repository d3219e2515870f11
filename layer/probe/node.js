'use strict';
/*
 * leakwatch's Node.js probe, loaded with `node --require` (NODE_OPTIONS) by /opt/leakwatch/wrapper.
 *
 * After each full garbage collection (mark-compact) it writes the heap as V8 sees it then into
 * one small file per process, $LEAKWATCH_PROBE_DIR/<pid>.probe, which leakwatch reads with one
 * pread at each invocation boundary: the heap used after the last full collection (what the heap
 * retains), the heap V8 holds from the system, its limit, and the memory outside the heap that
 * JavaScript objects own (external, ArrayBuffers and Buffers among it). No socket, no message per
 * invocation, nothing printed.
 *
 * How it learns of a full collection costs nothing in between: a FinalizationRegistry watches
 * one empty object that nothing references. V8 clears weak targets only in full collections (its
 * scavenges treat them as strong), so the registry's callback runs once after each full
 * collection, as a task of the event loop; it then reads the heap's figures, writes, and watches
 * a new object. (A PerformanceObserver on 'gc' entries would tell the same, but Node.js then does
 * its own bookkeeping at every collection, scavenges included: about 3% of a garbage-heavy 10 ms
 * handler, docs/runtime-insight.md.) Between full collections a timer of 0.1 s, which never keeps
 * the process alive, rewrites the figures that move with scavenges (the heap V8 holds, external
 * memory) when they changed, so that leakwatch's "native" memory (the function's anonymous RSS
 * less V8's heap) does not count a growing heap as native.
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
    // Between full collections, the heap's holdings and external memory at most this often.
    const REFRESH_MS = 100;
    let fd = -1;
    let timer = null;
    let on = false;
    try {
        const dir = process.env.LEAKWATCH_PROBE_DIR;
        if (!dir || dir[0] !== '/' || !require('worker_threads').isMainThread)
            return;
        const fs = require('fs');
        const v8 = require('v8');
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
            updates: 0, major: 0, heapAfterMajor: -1, committed: 0, limit: 0, external: -1,
            arrayBuffers: -1, oldCommitted: -1,
        };

        const off = () => {
            on = false;
            if (timer)
                clearInterval(timer);
            timer = null;
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
                    `updates ${s.updates}\ngc_major ${s.major}\n` +
                    `heap_resident ${s.committed}\nheap_limit ${s.limit}\n`;
            if (s.heapAfterMajor >= 0)
                t += `heap_after_major ${s.heapAfterMajor}\n`;
            if (s.oldCommitted >= 0)
                t += `old_committed ${s.oldCommitted}\n`;
            if (s.external >= 0)
                t += `external ${s.external}\n`;
            if (s.arrayBuffers >= 0)
                t += `array_buffers ${s.arrayBuffers}\n`;
            t += `end ${fnv1a(t)}\n`;
            buf.fill(0);
            buf.write(t, 0, 'latin1');
            fs.writeSync(fd, buf, 0, FILE_BYTES, 0);
        };

        // Reads V8's figures; says whether the heap's holdings or external memory moved.
        const heap = () => {
            const h = v8.getHeapStatistics();
            const ext = typeof h.external_memory === 'number' ? h.external_memory : -1;
            const moved = h.total_physical_size !== s.committed || ext !== s.external;
            s.committed = h.total_physical_size;
            s.limit = h.heap_size_limit;
            s.external = ext;
            return [h.used_heap_size, moved];
        };

        const registry = new FinalizationRegistry(() => {
            if (!on)
                return;
            try {
                s.major++;
                s.heapAfterMajor = heap()[0];
                // What the old generation holds committed: V8 fails when that cannot stay
                // within its old space, whatever its objects leave unused in it.
                let old = 0;
                for (const sp of v8.getHeapSpaceStatistics())
                    if (!sp.space_name.startsWith('new_') && sp.space_name !== 'read_only_space')
                        old += sp.space_size;
                s.oldCommitted = old;
                // ArrayBuffers (Buffers among them) only here: the call also reads the
                // process's resident size, a file read, too dear for the timer.
                s.arrayBuffers = process.memoryUsage().arrayBuffers;
                write();
                registry.register({}, 0);
            } catch (e) {
                off();
            }
        });

        on = true;
        heap();
        write();
        registry.register({}, 0);
        timer = setInterval(() => {
            try {
                if (heap()[1])
                    write();
            } catch (e) {
                off();
            }
        }, REFRESH_MS);
        timer.unref();
    } catch (e) {
        on = false;
        try {
            if (timer)
                clearInterval(timer);
            if (fd >= 0)
                require('fs').closeSync(fd);
        } catch (e2) { /* nothing to do */ }
    }
})();
