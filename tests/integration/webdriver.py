"""A headless Debian Chromium driven through chromedriver's W3C WebDriver
protocol, with the Python standard library only (the browser tests)."""
import json
import sys
import time
import urllib.request


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


class Session:
    def __init__(self, driver, profile_dir):
        self.driver = driver
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--user-data-dir=" + profile_dir]}}}}
        self.base = "/session/" + self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        req = urllib.request.Request(self.driver + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.load(r)["value"]

    def go(self, url):
        self.call("POST", self.base + "/url", {"url": url})

    def title(self):
        return self.call("GET", self.base + "/title")

    def find(self, css):
        v = self.call("POST", self.base + "/element", {"using": "css selector", "value": css})
        # W3C key, or the legacy "ELEMENT" one.
        if not isinstance(v, dict) or not v:
            fail("no element " + css + ": " + repr(v))
        return v.get("element-6066-11e4-a4ab-0ecc4a8a6f0b") or v.get("ELEMENT") or next(iter(v.values()))

    def text(self, css):
        return self.call("GET", self.base + "/element/" + self.find(css) + "/text")

    def type(self, css, text):
        self.call("POST", self.base + "/element/" + self.find(css) + "/value", {"text": text})

    def clear(self, css):
        self.call("POST", self.base + "/element/" + self.find(css) + "/clear", {})

    def click(self, css):
        self.call("POST", self.base + "/element/" + self.find(css) + "/click", {})

    def run(self, script):
        return self.call("POST", self.base + "/execute/sync", {"script": script, "args": []})

    def wait_for(self, script, what, tries=100):
        """Polls `script` every 0.1 s until it returns something true."""
        for _ in range(tries):
            try:
                v = self.run(script)
            except Exception:
                v = None  # the page is (re)loading
            if v:
                return v
            time.sleep(0.1)
        fail(what)

    def window(self, width, height):
        self.call("POST", self.base + "/window/rect", {"width": width, "height": height})

    def screenshot(self, path):
        """The visible page as a PNG file."""
        import base64
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.call("GET", self.base + "/screenshot")))

    def close(self):
        self.call("DELETE", self.base)
