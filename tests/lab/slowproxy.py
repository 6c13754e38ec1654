#!/usr/bin/python3
"""slowproxy.py - a TCP proxy that delays each direction: a slow DC for tests.

    slowproxy.py --listen ADDR:PORT --to HOST:PORT [--delay SECONDS]
                 [--delay-file FILE] [--ready-file FILE]

Every chunk read from one side is written to the other DELAY seconds after
it arrived, in order (a long, slow link: latency, not bandwidth). With
--delay-file the delay is read from FILE (one number, seconds) for every
chunk as it arrives, so a test can slow a running connection down or speed
it up by rewriting the file; a missing or malformed file means --delay.
A huge delay (3600) is a stalled DC.

When one side closes, what is still in flight is delivered to the other
side first, then that direction is closed (half-close) - as a real network
would; a write a client sent just before giving up may still reach the DC.

--ready-file is written once the proxy listens. The kernel has no netem
(see ../shared/LAB.md), hence this. Stop it with SIGTERM (its PID).
"""
import argparse
import asyncio
import os
import signal
import sys


def addr(s):
    host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"want HOST:PORT, got {s!r}")
    return host.strip("[]"), int(port)


class Proxy:
    def __init__(self, args):
        self.args = args
        self.n = 0

    def delay(self):
        if self.args.delay_file:
            try:
                with open(self.args.delay_file) as f:
                    return max(0.0, float(f.read().strip()))
            except (OSError, ValueError):
                pass
        return self.args.delay

    def log(self, msg):
        print(f"slowproxy: {msg}", file=sys.stderr, flush=True)

    async def pipe(self, reader, writer, name):
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue()

        async def send():
            try:
                while True:
                    item = await queue.get()
                    if item is None:
                        break
                    due, data = item
                    wait = due - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    writer.write(data)
                    await writer.drain()
                if writer.can_write_eof():
                    writer.write_eof()
            except (ConnectionError, OSError) as e:
                self.log(f"{name}: write failed: {e}")
                writer.close()

        sender = asyncio.create_task(send())
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                queue.put_nowait((loop.time() + self.delay(), data))
        except (ConnectionError, OSError) as e:
            self.log(f"{name}: read failed: {e}")
        queue.put_nowait(None)
        await sender

    async def handle(self, creader, cwriter):
        self.n += 1
        n = self.n
        try:
            ureader, uwriter = await asyncio.open_connection(*self.args.to)
        except OSError as e:
            self.log(f"conn {n}: cannot reach {self.args.to[0]}:{self.args.to[1]}: {e}")
            cwriter.close()
            return
        self.log(f"conn {n}: open, delay {self.delay():g}s")
        await asyncio.gather(self.pipe(creader, uwriter, f"conn {n} up"),
                             self.pipe(ureader, cwriter, f"conn {n} down"))
        for w in (cwriter, uwriter):
            w.close()
        self.log(f"conn {n}: closed")

    async def run(self):
        server = await asyncio.start_server(self.handle, *self.args.listen)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if self.args.ready_file:
            tmp = self.args.ready_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(f"{os.getpid()}\n")
            os.rename(tmp, self.args.ready_file)
        self.log(f"listening on {self.args.listen[0]}:{self.args.listen[1]} -> "
                 f"{self.args.to[0]}:{self.args.to[1]}")
        await stop.wait()
        server.close()


def main():
    p = argparse.ArgumentParser(description="a TCP proxy that delays each direction")
    p.add_argument("--listen", type=addr, required=True)
    p.add_argument("--to", type=addr, required=True)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--delay-file")
    p.add_argument("--ready-file")
    asyncio.run(Proxy(p.parse_args()).run())


if __name__ == "__main__":
    main()
