#!/usr/bin/env node
'use strict';
/*
 * nodefn: a Node.js custom runtime whose memory behaviour is known, for the leak verdict.
 *
 * Every invocation makes `garbage_bytes` of short-lived JavaScript objects (strings and small
 * objects that are dropped before the answer: V8's heap sizing, nothing kept), then retains
 * `bytes` in a module-level list when the invocation's number is a multiple of `every` (the
 * leak; 0 bytes: no leak). What is retained is a JavaScript array of doubles, so it lives in
 * V8's heap and counts against --max-old-space-size, as a real leak does. `buffer_bytes` are
 * retained likewise as a Buffer: memory outside V8's heap (external), as a Buffer leak is.
 *
 * Speaks the Lambda Runtime API (2018-06-01) with Node's standard library only. Knobs come from
 * the event payload, with defaults from the environment: bytes (NODEFN_BYTES, 0), buffer_bytes
 * (NODEFN_BUFFER_BYTES, 0), every
 * (NODEFN_EVERY, 1), garbage_bytes (NODEFN_GARBAGE_BYTES, 4 MiB), delay_ms (DELAY_MS, 0).
 * Start it as Lambda's Node.js runtime starts node for the memory size (docs/verdict.md):
 *   node --max-semi-space-size=M/20 --max-old-space-size=M*9/10 nodefn.js
 */
const http = require('http');

const MAX_BYTES = 2 ** 40;
const RETAINED = [];
let retainedBytes = 0;
let invocation = 0;

const api = process.env.AWS_LAMBDA_RUNTIME_API;
if (!api) {
    process.stderr.write('[nodefn] AWS_LAMBDA_RUNTIME_API is not set\n');
    process.exit(1);
}
const [host, port] = api.split(':');
const agent = new http.Agent({ keepAlive: false });

function request(method, path, body) {
    return new Promise((resolve, reject) => {
        const headers = body ? { 'Content-Type': 'application/json',
                                 'Content-Length': Buffer.byteLength(body) } : {};
        const req = http.request({ host, port: Number(port), method, path, headers, agent },
            (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
                                              body: Buffer.concat(chunks) }));
                res.on('error', reject);
            });
        req.on('error', reject);
        if (body)
            req.write(body);
        req.end();
    });
}

function envInt(name, def, max) {
    const v = process.env[name];
    if (v === undefined || v === '')
        return def;
    if (!/^[0-9]+$/.test(v) || Number(v) > max)
        throw new Error(`environment variable ${name} is not an integer in [0, ${max}]`);
    return Number(v);
}

function knob(event, key, def, max) {
    let v = event && typeof event === 'object' && !Array.isArray(event) ? event[key] : undefined;
    if (v === undefined || v === null)
        return def;
    if (v === true)
        v = 1;
    else if (v === false)
        v = 0;
    if (!Number.isInteger(v) || v < 0 || v > max)
        throw new Error(`"${key}" must be an integer in [0, ${max}]`);
    return v;
}

/* Short-lived objects: about `bytes` of strings and small objects, all dropped on return. */
function makeGarbage(bytes) {
    const junk = [];
    let made = 0;
    let i = 0;
    while (made < bytes) {
        const s = 'request-' + invocation + '-' + i + '-' + 'x'.repeat(200);
        junk.push({ id: i, name: s, tags: [i, i + 1, i + 2] });
        made += 2 * s.length + 96;
        i++;
    }
    let sum = 0;
    for (const o of junk)
        sum += o.tags[1];
    return sum;
}

function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
}

async function main() {
    let defaults;
    try {
        defaults = {
            bytes: envInt('NODEFN_BYTES', 0, MAX_BYTES),
            buffer_bytes: envInt('NODEFN_BUFFER_BYTES', 0, MAX_BYTES),
            every: envInt('NODEFN_EVERY', 1, 1 << 20),
            garbage_bytes: envInt('NODEFN_GARBAGE_BYTES', 4 << 20, MAX_BYTES),
            delay_ms: envInt('DELAY_MS', 0, 900000),
        };
    } catch (e) {
        await request('POST', '/2018-06-01/runtime/init/error',
            JSON.stringify({ errorMessage: e.message, errorType: 'Runtime.InvalidConfiguration',
                             stackTrace: [] }));
        process.exit(1);
    }
    const maxima = { bytes: MAX_BYTES, buffer_bytes: MAX_BYTES, every: 1 << 20, garbage_bytes: MAX_BYTES,
                     delay_ms: 900000 };
    for (;;) {
        const next = await request('GET', '/2018-06-01/runtime/invocation/next');
        const id = next.headers['lambda-runtime-aws-request-id'];
        if (next.status !== 200 || !id) {
            process.stderr.write(`[nodefn] invocation/next answered ${next.status}\n`);
            process.exit(1);
        }
        invocation++;
        const base = `/2018-06-01/runtime/invocation/${id}`;
        let k;
        try {
            const text = next.body.toString('utf8');
            const event = text.trim() ? JSON.parse(text) : null;
            k = {};
            for (const key of Object.keys(defaults))
                k[key] = knob(event, key, defaults[key], maxima[key]);
            if (k.every < 1)
                throw new Error('"every" must be at least 1');
        } catch (e) {
            await request('POST', base + '/error',
                JSON.stringify({ errorMessage: e.message, errorType: 'InvalidEvent',
                                 stackTrace: [] }));
            continue;
        }
        if (k.delay_ms)
            await sleep(k.delay_ms);
        makeGarbage(k.garbage_bytes);
        let allocated = 0;
        if (k.bytes > 0 && invocation % k.every === 0) {
            const a = new Array(Math.ceil(k.bytes / 8)).fill(invocation + 0.5);
            RETAINED.push(a);
            retainedBytes += a.length * 8;
            allocated = a.length * 8;
        }
        if (k.buffer_bytes > 0 && invocation % k.every === 0) {
            // filled, so that its pages are touched: resident, as a real buffer's are
            RETAINED.push(Buffer.alloc(k.buffer_bytes, invocation & 0xff));
            retainedBytes += k.buffer_bytes;
            allocated += k.buffer_bytes;
        }
        const body = JSON.stringify({
            function: 'nodefn', invocation, request_id: id, allocated_bytes: allocated,
            freed_bytes: 0, retained_bytes: retainedBytes, garbage_bytes: k.garbage_bytes,
            pid: process.pid,
        });
        const res = await request('POST', base + '/response', body);
        if (res.status !== 202)
            process.stderr.write(`[nodefn] POST response answered ${res.status}\n`);
    }
}

main().catch((e) => {
    process.stderr.write(`[nodefn] ${e.stack || e}\n`);
    process.exit(1);
});
