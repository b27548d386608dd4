"""A minimal Kubernetes API client for the benchmark, on the standard library only: the admin
kubeconfig's client certificate over one keep-alive HTTPS connection. kubectl starts a process
per command (~0.1 s), too coarse to time one resource from create to Ready."""

import base64
import http.client
import json
import os
import ssl
import subprocess
import tempfile
import urllib.parse

GROUP = "/apis/admin.corti.app/v1alpha1"


class Kube:
    def __init__(self, kubeconfig):
        raw = subprocess.run(
            ["kubectl", "--kubeconfig", kubeconfig, "config", "view", "--raw", "-o", "json"],
            check=True, capture_output=True, text=True).stdout
        config = json.loads(raw)
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        self._dir = tempfile.mkdtemp(prefix="bench-kube-")
        files = {}
        for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
            path = os.path.join(self._dir, key)
            with open(path, "wb") as f:
                f.write(base64.b64decode(cluster.get(key) or user[key]))
            files[key] = path
        self.context = ssl.create_default_context(cafile=files["certificate-authority-data"])
        self.context.load_cert_chain(files["client-certificate-data"], files["client-key-data"])
        self.url = urllib.parse.urlparse(cluster["server"])
        self.conn = None

    def _connection(self, timeout=30):
        return http.client.HTTPSConnection(
            self.url.hostname, self.url.port, context=self.context, timeout=timeout)

    def request(self, method, path, body=None, content_type="application/json"):
        """One call on the shared connection (reopened once if the server closed it)."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = self._connection()
            try:
                headers = {"Content-Type": content_type} if body is not None else {}
                self.conn.request(method, path, body=json.dumps(body) if body is not None else None,
                                  headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.status >= 400:
                    raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
                return json.loads(data) if data else None
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn = None
                if attempt == 2:
                    raise

    def list_all(self, namespace, plural):
        """Every object of `plural` in `namespace`, in pages of 500."""
        items, token = [], ""
        while True:
            query = urllib.parse.urlencode({"limit": 500, "continue": token})
            page = self.request("GET", f"{GROUP}/namespaces/{namespace}/{plural}?{query}")
            items.extend(page["items"])
            token = page["metadata"].get("continue") or ""
            if not token:
                return items

    def create(self, namespace, plural, obj):
        return self.request("POST", f"{GROUP}/namespaces/{namespace}/{plural}", obj)

    def watch_until(self, namespace, plural, name, resource_version, done, timeout):
        """Watches one object from `resource_version` until `done(object)`; False on timeout."""
        query = urllib.parse.urlencode({
            "watch": "1", "fieldSelector": f"metadata.name={name}",
            "resourceVersion": resource_version, "timeoutSeconds": int(timeout) + 1,
            "allowWatchBookmarks": "false"})
        conn = self._connection(timeout=timeout + 5)
        try:
            conn.request("GET", f"{GROUP}/namespaces/{namespace}/{plural}?{query}")
            response = conn.getresponse()
            while True:
                line = response.readline()
                if not line:
                    return False
                event = json.loads(line)
                if event.get("type") in ("ADDED", "MODIFIED") and done(event["object"]):
                    return True
        finally:
            conn.close()


def ready(obj, reason="Reconciled"):
    """`Ready=True` with `reason`, for the object's current generation."""
    generation = obj["metadata"].get("generation")
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" and c.get("reason") == reason
        and c.get("observedGeneration", generation) == generation
        for c in (obj.get("status") or {}).get("conditions") or [])
