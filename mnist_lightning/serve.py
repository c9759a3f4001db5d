"""python -m mnist_lightning.serve ckpt_path=<ckpt or .onnx>: a local page to draw a digit and watch the network answer.

Python's own http.server (ThreadingHTTPServer): one page and one endpoint on 127.0.0.1 need no framework.
POST /predict takes an image (the canvas as PNG, or an uploaded photo) through predict's preprocessing.
"""

import sys

from mnist_lightning.base.command_line import answer_early

if __name__ == "__main__":  # mistakes, --help and --cfg job are answered before torch and Lightning load (8-10 s)
    answer_early("serve", sys.argv[1:])

import contextlib
import errno
import socket
from http.server import ThreadingHTTPServer

from omegaconf import DictConfig

from mnist_lightning.base.command import command
from mnist_lightning.base.errors import UserError, require
from mnist_lightning.inference.server import load_classifier, make_handler

ALL_INTERFACES = ("0.0.0.0", "")  # IPv4: ThreadingHTTPServer binds no IPv6 address


def served_names(host: str) -> set[str]:
    """The names a request may give as Host: the address served and this machine's loopback names, and, when every
    interface is served (host=0.0.0.0), this machine's names and the addresses they resolve to here (the address a
    request arrives on is accepted by the handler too). Any other name is refused (a site whose DNS was pointed at
    this machine); allowed_hosts adds more."""
    names = {host, "127.0.0.1", "localhost"}
    if host in ALL_INTERFACES:
        hostname = socket.gethostname()
        names |= {hostname, socket.getfqdn()}
        with contextlib.suppress(OSError):
            names |= set(socket.gethostbyname_ex(hostname)[2])
    return names - {""}


def shown_host(host: str) -> str:
    """The name to print in the server's URL: on all interfaces, the one other machines use. getfqdn() gives
    "localhost" where /etc/hosts maps the machine's name to 127.0.0.1: then the machine's own name."""
    if host not in ALL_INTERFACES:
        return host
    fqdn = socket.getfqdn()
    return socket.gethostname() if fqdn in ("localhost", "localhost.localdomain") else fqdn


def serve(cfg: DictConfig) -> None:
    """Load the model, bind host:port (a clear error when it is taken), and answer until Ctrl-C."""
    require(cfg, "ckpt_path", "give the model to serve: ckpt_path=<run>/checkpoints/last.ckpt (or an exported .onnx)")
    if not isinstance(cfg.port, int) or not 0 <= cfg.port <= 65535:
        raise UserError(f"port must be a number from 0 to 65535, got {cfg.port!r}")
    limit = cfg.max_upload_mb
    if not isinstance(limit, float | int) or isinstance(limit, bool) or limit <= 0:
        raise UserError(f"max_upload_mb must be a positive number of MiB (like 10), got {limit!r}")
    classify = load_classifier(str(cfg.ckpt_path), trust=cfg.trust_checkpoint)
    hosts: set[str] = set()  # filled in once the port is known (port=0 takes a free one)
    handler = make_handler(classify, int(cfg.max_upload_mb * 2**20), hosts)
    try:
        server = ThreadingHTTPServer((cfg.host, cfg.port), handler)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            message = f"port {cfg.port} is in use: stop what uses it or choose another, e.g. port={cfg.port + 1}"
            raise UserError(message) from error
        raise UserError(f"cannot listen on {cfg.host}:{cfg.port}: {error.strerror}") from error
    allowed = {str(name).lower() for name in cfg.get("allowed_hosts") or []}
    names = {name.lower() for name in served_names(cfg.host)} | allowed
    hosts.update(f"{name}:{server.server_port}" for name in names)
    hosts.update(allowed)  # a proxy names the host without the port
    if server.server_port == 80:  # a browser leaves the default port out of Host
        hosts.update(names)
    print(f"serving {cfg.ckpt_path} on http://{shown_host(cfg.host)}:{server.server_port} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()


@command("serve")
def main(cfg: DictConfig) -> None:
    serve(cfg)


if __name__ == "__main__":
    main()  # the command line was checked at the top
