"""The draw-a-digit HTTP app: a classifier from a checkpoint or .onnx file, and the request handler serve runs."""

import io
import json
import sys
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from mnist_lightning.base.checkpoint_path import checkpoint_path_error
from mnist_lightning.base.errors import UserError
from mnist_lightning.data.mnist import denormalize
from mnist_lightning.inference.photo import to_mnist
from mnist_lightning.run.checkpoints import load_module

PAGE = Path(__file__).with_name("page") / "index.html"


MAX_PIXELS = 25_000_000  # a 25-megapixel photo; larger ones would take a gigabyte or more to prepare


# Sent by the page with every request. A browser lets another site's script POST to 127.0.0.1 without asking,
# but not with a header of its own: so a page elsewhere cannot make this server work for it.
REQUEST_HEADER = "X-MNIST-Lightning"


Classifier = Callable[[torch.Tensor], np.ndarray]  # (N, 1, 28, 28) normalized images -> (N, 10) probabilities


def load_classifier(path: str, trust: bool = False) -> Classifier:
    """A checkpoint through PyTorch, or an exported .onnx file through onnxruntime; a clear error for anything else."""
    if not Path(path).is_file():  # a run folder gets the name of its last.ckpt, as in the other commands
        raise UserError(f"{checkpoint_path_error(path)} (or an exported .onnx)")
    if Path(path).suffix == ".pt2":  # export's other format: a torch.export program, for runtimes without Lightning
        raise UserError(f"{path} is a torch.export program: serve reads a checkpoint (.ckpt) or an exported .onnx")
    if Path(path).suffix != ".onnx":
        module = load_module(path, trust=trust).eval()
        return lambda x: module(x).softmax(dim=1).detach().numpy()
    try:
        import onnxruntime
    except ModuleNotFoundError as error:
        raise UserError('serving an .onnx file needs onnxruntime: pip install "mnist-lightning[export]"') from error

    try:
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types for a damaged or foreign file
        raise UserError(f"{path} is not an ONNX model onnxruntime can run: {str(error).splitlines()[0]}") from error
    if [i.name for i in session.get_inputs()] != ["pixels"]:
        raise UserError(f"{path} is not a model made by mnist_lightning.export (no 'pixels' input)")

    def classify(x: torch.Tensor) -> np.ndarray:
        logits = session.run(["logits"], {"pixels": denormalize(x).numpy()})[0]
        return torch.from_numpy(logits).softmax(dim=1).numpy()

    return classify


def answer(classify: Classifier, body: bytes) -> dict:
    """The JSON answer for one image: digit, ten probabilities and the 28x28 image the network saw (0-255)."""
    try:
        with Image.open(io.BytesIO(body)) as image:  # reads the header only: the size is known before decoding
            if image.width * image.height > MAX_PIXELS:
                raise ValueError(f"that picture has {image.width} x {image.height} pixels: send one of at most 25 MP")
            x = to_mnist(image)
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError("that file is not an image: upload a PNG or JPEG photo of one digit") from error
    except Image.DecompressionBombError as error:
        raise ValueError("that picture has too many pixels to open safely") from error
    with torch.no_grad():
        probabilities = classify(x.unsqueeze(0))[0]
    seen = (denormalize(x[0]).clamp(0, 1) * 255).round().int().flatten().tolist()
    # float64 before rounding: a rounded float32 prints as 0.0013000000035390258 in the JSON
    rounded = probabilities.astype(np.float64).round(4).tolist()
    return {"digit": int(probabilities.argmax()), "probabilities": rounded, "seen": seen}


def make_handler(classify: Classifier, max_upload_bytes: int, hosts: set[str]) -> type[BaseHTTPRequestHandler]:
    """The request handler: GET / is the page, POST /predict an answer; errors are JSON the page shows.

    `hosts`: the Host headers answered (lower case), besides the address the request arrived on, which a user typed.
    Another name (a site whose DNS now points to this machine) is refused.
    """

    class Handler(BaseHTTPRequestHandler):
        def parse_request(self) -> bool:
            if not super().parse_request():
                return False
            host = (self.headers.get("Host") or "").lower()
            address, port = self.connection.getsockname()[:2]
            if host not in hosts and host not in (f"{address}:{port}", address if port == 80 else None):
                # Plain text that names the fix (send_error's HTML page did not, and logged the request twice)
                name = host or "<name>"  # with its port: behind a tunnel (localhost:9000) the name alone is not enough
                refusal = "this server answers only to its own address; to answer "
                refusal += f"{name}, start it with allowed_hosts=[{name}]"
                self.close_connection = True
                self._send(HTTPStatus.MISDIRECTED_REQUEST, f"{refusal}\n".encode(), "text/plain; charset=utf-8")
                return False
            return True

        def do_GET(self) -> None:
            if self.path not in ("/", "/index.html"):
                return self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
            page = PAGE.read_text().replace("__MAX_UPLOAD_BYTES__", str(max_upload_bytes))
            self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")

        def do_POST(self) -> None:
            if self.path != "/predict":
                return self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})
            if self.headers.get(REQUEST_HEADER) != "1":  # not our page: perhaps another site's script
                return self._json(HTTPStatus.FORBIDDEN, {"error": f"requests need the header {REQUEST_HEADER}: 1"})
            length = self.headers.get("Content-Length", "")
            if not length.isdigit() or not 0 < int(length) <= max_upload_bytes:
                self.close_connection = True  # the body, if any, is not read
                limit = f"{max_upload_bytes / 2**20:g} MiB"
                return self._json(HTTPStatus.BAD_REQUEST, {"error": f"send one image of at most {limit}"})
            length = int(length)
            try:
                self._json(HTTPStatus.OK, answer(classify, self.rfile.read(length)))
            except ValueError as error:  # not an image, no digit found: the page shows the message
                self._json(HTTPStatus.BAD_REQUEST, {"error": str(error)})

        def _json(self, status: HTTPStatus, payload: dict) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
            self.send_response(status)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # one short line per request, not Apache's
            # One write of the whole line: print's separate write of the newline let threads' lines run together.
            sys.stderr.write(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}\n")

    return Handler
