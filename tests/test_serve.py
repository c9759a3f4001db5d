"""serve: the draw-a-digit page over HTTP, and in a real (headless Chromium) browser where one is installed."""

import http.client
import io
import json
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torchvision
from conftest import assert_clear_error, free_port, run_here, wait_until_answers
from PIL import Image

from mnist_lightning.base.errors import UserError
from mnist_lightning.base.locations import BUNDLED_DATA_DIR
from mnist_lightning.inference.server import answer, load_classifier
from mnist_lightning.serve import shown_host

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def checkpoint(trained_sweep) -> Path:
    return trained_sweep / "0" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def server(checkpoint, tmp_path_factory):
    """`python -m mnist_lightning.serve` on a free port, as a user starts it; its URL once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "mnist_lightning.serve", f"ckpt_path={checkpoint}", f"port={port}"]
    process = subprocess.Popen(command, cwd=tmp_path_factory.mktemp("serve"), stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_until_answers(url, process)
    yield url
    process.terminate()
    process.wait(timeout=10)


def post(url: str, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    """POST /predict as the page does (with its header), or with `headers` instead."""
    headers = {"X-MNIST-Lightning": "1"} if headers is None else headers
    request = urllib.request.Request(f"{url}/predict", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def mnist_png(index: int) -> bytes:
    """Test image `index` as a PNG file's bytes, white digit on black as MNIST stores it."""
    image = torchvision.datasets.MNIST(BUNDLED_DATA_DIR, train=False).data[index].numpy()
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def known_digit(checkpoint) -> tuple[bytes, int]:
    """A test digit as PNG that the model, through predict's preprocessing in Python, reads as its true label."""
    classify = load_classifier(str(checkpoint))
    labels = torchvision.datasets.MNIST(BUNDLED_DATA_DIR, train=False).targets
    for index in range(100):
        png = mnist_png(index)
        if answer(classify, png)["digit"] == labels[index] and labels[index] != 1:
            return png, int(labels[index])
    raise AssertionError("the model reads none of the first 100 test digits right")


@pytest.mark.system
def test_the_server_answers_images_and_survives_bad_uploads(server, known_digit):
    png, label = known_digit
    status, result = post(server, png)
    assert status == 200 and result["digit"] == label and len(result["seen"]) == 28 * 28
    assert len(result["probabilities"]) == 10 and abs(sum(result["probabilities"]) - 1) < 1e-3
    status, result = post(server, b"this is not a picture")
    assert status == 400 and result["error"].startswith("that file is not an image")
    blank = io.BytesIO()
    Image.new("L", (64, 64), 255).save(blank, format="PNG")
    status, result = post(server, blank.getvalue())
    assert status == 400 and result["error"].startswith("no digit found")
    assert post(server, png)[1]["digit"] == label  # still serving after the errors


@pytest.mark.system
def test_requests_from_elsewhere_and_oversized_pictures_are_refused(server, known_digit):
    png, _ = known_digit
    status, result = post(server, png, headers={})  # what another site's script could send without asking
    assert status == 403 and "X-MNIST-Lightning" in result["error"]
    rebound = {"X-MNIST-Lightning": "1", "Host": "attacker.example:80"}  # a DNS name pointed at 127.0.0.1
    with pytest.raises(urllib.error.HTTPError, match="421") as refused:
        urllib.request.urlopen(urllib.request.Request(f"{server}/predict", data=png, headers=rebound))
    # In words that name the fix, for a user behind a tunnel or an alias (it was Python's HTML error page)
    assert refused.value.read().decode() == (
        "this server answers only to its own address; to answer attacker.example:80, start it with "
        "allowed_hosts=[attacker.example:80]\n"
    )
    huge = io.BytesIO()
    Image.new("L", (6000, 5000), 255).save(huge, format="PNG")  # 40 KB of file, 30 megapixels
    status, result = post(server, huge.getvalue())
    assert status == 400 and "6000 x 5000 pixels" in result["error"]
    # A body announced over max_upload_mb is refused from its headers, before it is read.
    connection = http.client.HTTPConnection(server.removeprefix("http://"), timeout=30)
    connection.putrequest("POST", "/predict")
    for name, value in (("X-MNIST-Lightning", "1"), ("Content-Length", str(10 * 2**20 + 1))):
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 400 and "at most 10 MiB" in json.loads(response.read())["error"]
    connection.close()
    assert post(server, png)[0] == 200


@pytest.mark.system
def test_serving_every_interface_answers_this_machines_name_and_allowed_hosts_only(checkpoint, known_digit, tmp_path):
    # host=0.0.0.0 is how another machine reaches the page: it names this machine in Host, which was refused (421).
    png, label = known_digit
    port = free_port()
    command = [sys.executable, "-m", "mnist_lightning.serve", f"ckpt_path={checkpoint}", f"port={port}",
               "host=0.0.0.0", "allowed_hosts=[mnist.example]"]  # fmt: skip
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(url, process)
        # This machine's name in any case, an allowed name with or without the port (a proxy sends it bare).
        for host in (f"{socket.gethostname()}:{port}", f"{socket.gethostname().upper()}:{port}",
                     f"mnist.example:{port}", "mnist.example"):  # fmt: skip
            status, result = post(url, png, headers={"X-MNIST-Lightning": "1", "Host": host})
            assert status == 200 and result["digit"] == label, host
        # The address a request arrives on, as a user types it: this machine's own on its network, where it has one.
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        address = probe.getsockname()[0]
        probe.close()
        if not address.startswith("127."):
            status, _ = post(f"http://{address}:{port}", png)  # urllib sends Host: <address>:<port>
            assert status == 200, address
        rebound = {"X-MNIST-Lightning": "1", "Host": f"attacker.example:{port}"}
        with pytest.raises(urllib.error.HTTPError, match="421"):
            urllib.request.urlopen(urllib.request.Request(f"{url}/predict", data=png, headers=rebound))
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
    assert f"on http://{shown_host('0.0.0.0')}:{port} " in out  # a URL another machine can open, not 0.0.0.0


def test_the_url_printed_for_every_interface_names_the_machine_as_others_reach_it(monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "vm")
    monkeypatch.setattr(socket, "getfqdn", lambda: "vm.example.org")
    assert shown_host("0.0.0.0") == "vm.example.org" and shown_host("127.0.0.1") == "127.0.0.1"
    # /etc/hosts mapping the machine's name to 127.0.0.1 first makes getfqdn() "localhost": printed before
    monkeypatch.setattr(socket, "getfqdn", lambda: "localhost")
    assert shown_host("0.0.0.0") == "vm"


def test_port_in_use_missing_and_foreign_models_are_one_clear_line(checkpoint, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_here("mnist_lightning.serve", f"ckpt_path={checkpoint}", f"port={port}", cwd=tmp_path)
        assert_clear_error(result, f"port {port} is in use")
    assert_clear_error(run_here("mnist_lightning.serve", cwd=tmp_path), "give the model to serve")
    result = run_here("mnist_lightning.serve", f"ckpt_path={checkpoint}", "max_upload_mb=-1", cwd=tmp_path)
    assert_clear_error(result, r"max_upload_mb must be a positive number of MiB \(like 10\), got -1")  # it served
    (tmp_path / "foreign.onnx").write_bytes(b"\x00" * 64)  # the rest in-process, where they are raised
    with pytest.raises(UserError, match="not an ONNX model onnxruntime can run"):
        load_classifier(str(tmp_path / "foreign.onnx"))
    import onnx  # a valid ONNX model that is not export's: its input is not `pixels`
    from onnx import TensorProto, helper

    x, logits = (helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 10]) for name in ("x", "logits"))
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["logits"])], "other", [x], [logits])
    onnx.save(helper.make_model(graph), tmp_path / "other.onnx")
    with pytest.raises(UserError, match=r"is not a model made by mnist_lightning.export \(no 'pixels' input\)"):
        load_classifier(str(tmp_path / "other.onnx"))
    (tmp_path / "model.pt2").write_bytes(b"PK")
    with pytest.raises(UserError, match=r"model.pt2 is a torch.export program: serve reads a checkpoint"):
        load_classifier(str(tmp_path / "model.pt2"))
    with pytest.raises(
        UserError, match=r"nothing.ckpt does not exist: give a file such as .* \(or an exported .onnx\)$"
    ):
        load_classifier(str(tmp_path / "nothing.ckpt"))
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)  # a run folder: the file in it is named
    (tmp_path / "run" / "checkpoints" / "last.ckpt").write_bytes(b"")
    with pytest.raises(
        UserError, match=rf"is a folder, not a checkpoint: give ckpt_path={tmp_path}/run/checkpoints/last.ckpt"
    ):
        load_classifier(str(tmp_path / "run"))


@pytest.mark.system
@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="no Chromium here: apt-get install chromium chromium-driver"
)
def test_a_browser_draws_a_digit_and_uploads_one(server, known_digit, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=900,700"):
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        browser.get(server)
        wait = WebDriverWait(browser, 30)
        pad, digit = browser.find_element(By.ID, "pad"), browser.find_element(By.ID, "digit")
        assert digit.text == ""
        # A stroke with the mouse: press, move down the middle of the pad, release.
        strokes = ActionChains(browser).move_to_element_with_offset(pad, 0, -90).click_and_hold()
        for _ in range(9):
            strokes = strokes.move_by_offset(2, 20)
        strokes.release().perform()
        wait.until(lambda b: digit.text != "")
        assert digit.text in list("0123456789")
        bars = browser.find_elements(By.CSS_SELECTOR, "#bars .bar")
        probabilities = [float(bar.get_attribute("data-probability")) for bar in bars]
        assert len(probabilities) == 10 and abs(sum(probabilities) - 1) < 1e-3
        assert int(digit.text) == int(np.argmax(probabilities))

        browser.find_element(By.ID, "clear").click()
        assert digit.text == ""

        png, label = known_digit
        (tmp_path / "digit.png").write_bytes(png)
        upload = browser.find_element(By.ID, "upload")
        upload.send_keys(str(tmp_path / "digit.png"))
        wait.until(lambda b: digit.text == str(label))

        (tmp_path / "notes.txt").write_text("not a picture")
        upload.send_keys(str(tmp_path / "notes.txt"))
        error = browser.find_element(By.ID, "error")
        wait.until(lambda b: "not an image" in error.text)  # shown in the page; the server goes on
        upload.send_keys(str(tmp_path / "digit.png"))
        wait.until(lambda b: error.text == "" and digit.text == str(label))
        # Over max_upload_mb (10): the page says so before sending (the server's own refusal reads otherwise)
        (tmp_path / "huge.png").write_bytes(b"\0" * (11 * 2**20))
        upload.send_keys(str(tmp_path / "huge.png"))
        wait.until(lambda b: error.text == "that file is 11.0 MiB: send one of at most 10 MiB")
    finally:
        browser.quit()


@pytest.mark.system
def test_several_clients_at_once_all_get_answers(server):
    from mnist_lightning.benchmarks.serve_load import load

    stats = load(server, clients=8, requests=80)  # 8 connections at once, 10 requests each
    assert stats["requests"] == 80 and stats["errors"] == 0, stats
    # Timings are printed by the script and measured in docs/ship.md, not asserted here.


@pytest.mark.parametrize(
    ("args", "code", "line"),
    [(["client=8"], 2, "serve_load has no option 'client=8': did you mean clients?"),
     (["clients=two"], 2, "clients must be a positive whole number, got 'two'"),
     (["clients=\u00b2"], 2, "clients must be a positive whole number"),
     (["url=nope"], 2, "url must look like http://127.0.0.1:8000"),
     (["url=http://127.0.0.1:abc"], 2, "url must look like http://127.0.0.1:8000"),
     (["requests=4", "clients=2"], 1, "none of the 4 requests got an answer from http://127.0.0.1:"),]
)  # fmt: skip
def test_serve_load_says_what_went_wrong_in_one_line(args, code, line, capsys):
    # It printed "400 errors, ... 10844 requests/s" and exit 0 with no server, ignored a misspelled option and
    # stopped in a traceback for clients=two.
    from mnist_lightning.benchmarks.serve_load import main

    nobody = [] if any(a.startswith("url=") for a in args) else [f"url=http://127.0.0.1:{free_port()}"]
    with pytest.raises(SystemExit) as stopped:
        main([*args, *nobody])
    assert stopped.value.code == code
    said = capsys.readouterr()
    [error] = said.err.splitlines()
    assert error.startswith(f"error: {line}"), error
    assert "requests/s" not in said.out  # no figures timed on refusals ("median 0.1 ms, 1904 requests/s")


@pytest.mark.system
@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="no Chromium here: apt-get install chromium chromium-driver"
)
def test_a_finger_draws_on_a_phone_sized_screen(server):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    phone = {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 3, "touch": True}, "userAgent": "phone"}
    options.add_experimental_option("mobileEmulation", phone)
    browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        browser.get(server)
        hint = browser.find_element(By.ID, "hint")
        assert hint.is_displayed() and "finger" in hint.text and "mouse" in hint.text
        pad, digit = browser.find_element(By.ID, "pad"), browser.find_element(By.ID, "digit")
        box = browser.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.width];", pad
        )
        assert box[0] >= 0 and box[0] + box[2] <= 390  # the whole pad fits the screen's width
        x, top = box[0] + box[2] / 2, box[1] + 40
        # A touch stroke as a finger makes it (Chrome turns touches into the pointer events the page listens to).
        touch = lambda kind, points: browser.execute_cdp_cmd(  # noqa: E731
            "Input.dispatchTouchEvent", {"type": kind, "touchPoints": points}
        )
        touch("touchStart", [{"x": x, "y": top}])
        for step in range(1, 10):
            touch("touchMove", [{"x": x + step, "y": top + 20 * step}])
        touch("touchEnd", [])
        WebDriverWait(browser, 30).until(lambda b: digit.text != "")
        assert digit.text in list("0123456789")  # the touches drew a stroke, and the page sent it
    finally:
        browser.quit()


def test_the_answer_gives_probabilities_to_four_places_in_its_json():
    # onnxruntime and torch answer in float32: rounded there, 0.0013 printed as 0.0013000000035390258
    probabilities = np.array([[0.0013] * 9 + [0.9883]], dtype=np.float32)
    result = answer(lambda x: probabilities, mnist_png(0))
    assert json.dumps(result["probabilities"]) == "[" + ", ".join(["0.0013"] * 9 + ["0.9883"]) + "]"
