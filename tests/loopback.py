"""A loopback HTTP server (127.0.0.1) serving a folder, for tests of download code.

``serve(root)`` yields ``(base_url, requests)``: files under ``root`` are served at their
relative path; ``requests`` lists every path asked for. A path under ``truncated/`` is answered
with the Content-Length of the whole file but only half of its bytes.
"""
import contextlib
import functools
import http.server
import os.path as osp
import threading

__all__ = ['serve']


class _Handler(http.server.SimpleHTTPRequestHandler):

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path.startswith('/truncated/'):
            path = osp.join(self.directory, self.path[len('/truncated/'):])
            if osp.isfile(path):
                data = open(path, 'rb').read()
                self.send_response(200)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
        super().do_GET()


@contextlib.contextmanager
def serve(root):
    handler = functools.partial(_Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}', server.requests
    finally:
        server.shutdown()
        server.server_close()
