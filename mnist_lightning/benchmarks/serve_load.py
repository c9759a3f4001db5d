"""Several clients at once against a running `serve`: errors, latency (median, p99) and requests per second.

    python -m mnist_lightning.benchmarks.serve_load url=http://127.0.0.1:8000 clients=8 requests=400

Measures and prints; tests/test_serve.py runs it with few requests and asserts only that none failed.
Threads and http.client, not a load-testing tool: a few hundred requests on 127.0.0.1 need nothing more.
"""

import difflib
import http.client
import io
import statistics
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from mnist_lightning.data.mnist import mnist_split


def digit_pngs(count: int = 50) -> list[bytes]:
    """The first `count` MNIST test digits as PNG files, the kind of body the page sends."""
    images = mnist_split(None, train=False)[0][:count].numpy()
    pngs = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
    return pngs


def one_client(url: str, bodies: list[bytes]) -> list[tuple[float, int]]:
    """POST each body to /predict, one after the other (the server closes each connection: HTTP/1.0, so
    http.client reconnects); (seconds, status) each."""
    address = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    results = []
    for body in bodies:
        start = time.perf_counter()
        try:
            connection.request("POST", "/predict", body, {"X-MNIST-Lightning": "1", "Content-Type": "image/png"})
            response = connection.getresponse()
            response.read()
            status = response.status
        except OSError:
            status = 0  # refused, reset or timed out: counted as an error
            connection.close()
        results.append((time.perf_counter() - start, status))
    connection.close()
    return results


def load(url: str, clients: int = 8, requests: int = 400) -> dict:
    """`requests` POSTs spread over `clients` concurrent connections; the numbers a load test reports."""
    pngs = digit_pngs()
    per_client = [[pngs[(c + i) % len(pngs)] for i in range(c, requests, clients)] for c in range(clients)]
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [r for rs in pool.map(lambda bodies: one_client(url, bodies), per_client) for r in rs]
    seconds = time.perf_counter() - start
    latencies = sorted(latency for latency, _ in results)
    return {
        "requests": len(results),
        "clients": clients,
        "errors": sum(status != 200 for _, status in results),
        "unanswered": sum(status == 0 for _, status in results),  # refused, reset or timed out: no HTTP answer
        "median_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "requests_per_s": len(results) / seconds,
    }


OPTIONS = {"url": "http://127.0.0.1:8000", "clients": "8", "requests": "400"}


def fail(message: str, code: int) -> None:
    """One line and the exit code: 2 for an option the user gave wrong, 1 for requests that failed."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def parse(argv: list[str]) -> tuple[str, int, int]:
    """`url=... clients=N requests=N`, each optional; a misspelled name or a value that is not a positive whole
    number ends in one line (a plain parser: three options need no Hydra config)."""
    options = dict(OPTIONS)
    for arg in argv:
        name, sep, value = arg.partition("=")
        if not sep or name not in OPTIONS:
            close = difflib.get_close_matches(name, OPTIONS, n=1)
            hint = f": did you mean {close[0]}?" if close else f" (it takes {', '.join(OPTIONS)})"
            fail(f"serve_load has no option {arg!r}{hint}", 2)
        options[name] = value
    for name in ("clients", "requests"):
        if not options[name].isascii() or not options[name].isdecimal() or int(options[name]) < 1:
            fail(f"{name} must be a positive whole number, got {options[name]!r}", 2)
    try:
        address = urllib.parse.urlsplit(options["url"])
        address.port  # noqa: B018 - parsed on access: a port that is not a number raises here, not in every thread
    except ValueError:
        address = None
    if address is None or address.hostname is None:
        fail(f"url must look like http://127.0.0.1:8000, got {options['url']!r}", 2)
    return options["url"], int(options["clients"]), int(options["requests"])


def main(argv: list[str]) -> None:
    url, clients, requests = parse(argv)
    stats = load(url, clients, requests)
    if stats["unanswered"] == stats["requests"]:  # its figures would time refusals, not answers: none printed
        fail(f"none of the {requests} requests got an answer from {url}: is serve running there?", 1)
    print(
        f"{stats['requests']} requests from {stats['clients']} clients: {stats['errors']} errors, "
        f"median {stats['median_ms']:.1f} ms, p99 {stats['p99_ms']:.1f} ms, {stats['requests_per_s']:.0f} requests/s"
    )
    if stats["errors"]:
        fail(f"{stats['errors']} of {stats['requests']} requests failed ({stats['unanswered']} without an answer)", 1)


if __name__ == "__main__":
    main(sys.argv[1:])
