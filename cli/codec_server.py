"""`q2c codec-server`: the codec endpoint alone, for a Temporal UI (or `temporal` CLI) in front of encrypted sagas.

The receiver serves the same endpoint at `/codec` when it runs with the same settings; this command is for
deployments where the UI should reach only the codec, not the trigger endpoints.
"""

from __future__ import annotations

import argparse

from fastapi import FastAPI

from cli import output
from cli.context import CliError, run_until_interrupted
from receiver.codec_endpoint import PATH, TOKEN_ENV, mount_codec_endpoint
from sandbox.servers import EmulatorFailedToStart, serve_apps
from workers.payload_codec import KEY_ENV, KEY_ID_ENV


async def codec_server(args: argparse.Namespace) -> int:
    app = FastAPI(title="q2c codec endpoint", docs_url=None, redoc_url=None, openapi_url=None)
    if not mount_codec_endpoint(app):
        raise CliError(f"the codec endpoint needs {KEY_ENV}, {KEY_ID_ENV} and {TOKEN_ENV} set")
    try:
        async with serve_apps({"codec": (app, args.port)}, args.host) as urls:
            output.say(f"Codec endpoint on {urls['codec']}{PATH} (POST {PATH}/decode, {PATH}/encode; bearer token).")
            output.say("Running until Ctrl-C.")
            await run_until_interrupted("the codec endpoint")
    except EmulatorFailedToStart:
        raise CliError(f"the codec endpoint did not start on {args.host}:{args.port} (port in use?)") from None
    return 0
