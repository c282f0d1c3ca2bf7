import contextlib
from pathlib import Path
from textwrap import dedent

SMALL_CORPUS = """\
faqs:
  - id: refund-time
    question: How long does a refund take?
    alternates:
      - When do I get my money back?
      - refund timing for returned items
    answer: Refunds take **3 days**.
  - id: shipping-cost
    question: How much does shipping cost?
    alternates:
      - What are the delivery charges?
      - shipping price
    answer: Shipping is free over $50.
  - id: password-reset
    question: How do I reset my password?
    alternates:
      - I forgot my password
    answer: Use Forgot password on the sign-in page.
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text), encoding="utf-8")
    return path


@contextlib.asynccontextmanager
async def http_server(path: str, handler):
    """An aiohttp server on a free loopback port answering POST ``path``; yields its URL."""
    from aiohttp import web

    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}{path}"
    finally:
        await runner.cleanup()


SEEDED = ("models", "cache")  # an index folder's export and embedding cache (tests/conftest.py index_seed)


def seed_index(seed: Path, index_dir: Path) -> Path:
    """Copy the run's ONNX export and embedding cache into ``index_dir`` unless it has its own."""
    import shutil

    for part in SEEDED:
        if (seed / part).is_dir() and not (index_dir / part).exists():
            shutil.copytree(seed / part, index_dir / part)
    return index_dir
