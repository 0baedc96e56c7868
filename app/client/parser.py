"""The client's part of the ``newremora`` command line: its subcommands and their dispatch."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Final

from app.client.config import TOKEN_FILE_VARIABLE, TOKEN_VARIABLE, URL_VARIABLE
from app.client.outcome import EXIT_CLIENT, EXIT_LEFT

CLIENT_COMMANDS: Final = (
    "servers",
    "run",
    "jobs",
    "logs",
    "cancel",
    "launch",
    "templates",
    "schedules",
    "triggers",
    "notifications",
)
JOB_STATUSES: Final = ("queued", "starting", "running", "completed", "failed", "canceled")


def split_remote_command(argv: Sequence[str]) -> tuple[list[str], list[str] | None]:
    """``run SERVER [options] -- WORDS...``: everything after the first ``--`` is the remote command, taken
    verbatim (argparse would try to read options in it, or choke on a second ``--``)."""
    args = list(argv)
    if args[:1] == ["run"] and "--" in args:
        cut = args.index("--")
        return args[:cut], args[cut + 1 :]
    return args, None


def _connection_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("service")
    group.add_argument("--url", help=f"service URL (default: ${URL_VARIABLE}, else http://127.0.0.1:8080)")
    group.add_argument(
        "--token-file",
        metavar="FILE",
        help=f"file holding the API key (default: ${TOKEN_VARIABLE}, ${TOKEN_FILE_VARIABLE}, "
        "~/.config/newremora/token); never on the command line",
    )
    return common


def add_client_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = _connection_options()

    schedules = commands.add_parser("schedules", help="list, create, enable, disable, delete schedules (client)")
    sched = schedules.add_subparsers(dest="action", required=True)
    sched_list = sched.add_parser("list", parents=[common], help="list schedules with their next run")
    sched_list.add_argument("--json", action="store_true", help="the API's data as JSON")
    sched_create = sched.add_parser("create", parents=[common], help="launch a template on a cron expression")
    sched_create.add_argument("name")
    sched_create.add_argument("--template", required=True, help="the template's name or id")
    sched_create.add_argument("--cron", required=True, help="5 fields, or 6 with seconds first")
    sched_create.add_argument("--timezone", default="UTC", help="an IANA name (default UTC)")
    sched_create.add_argument("--overlap", choices=("skip", "queue"), default="skip")
    sched_create.add_argument("--missed", choices=("run_once", "skip"), default="run_once")
    sched_create.add_argument("--disabled", action="store_true", help="create it disabled")
    sched_create.add_argument("-p", "--param", action="append", metavar="NAME=VALUE", help="a parameter value")
    for action in ("enable", "disable", "delete"):
        one = sched.add_parser(action, parents=[common], help=f"{action} a schedule")
        one.add_argument("schedule", help="its name or id")

    _add_trigger_commands(commands, common)
    _add_notification_commands(commands, common)

    servers = commands.add_parser("servers", help="list, add and test servers (client)")
    actions = servers.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common], help="list servers")
    listing.add_argument("--active-only", action="store_true", help="only active servers")
    listing.add_argument("--json", action="store_true", help="the API's data as JSON")
    add = actions.add_parser(
        "add", parents=[common], help="add a server; secrets come from files, stdin or a prompt, never argv"
    )
    add.add_argument("name", help="unique name (letters, digits, . _ -)")
    add.add_argument("--host", required=True, help="host name or IP address")
    add.add_argument("--port", type=int, default=22)
    add.add_argument("--user", required=True, help="SSH login name")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--key-file", metavar="FILE", help="private key file (- for stdin): key authentication")
    secret.add_argument(
        "--password-file", metavar="FILE", help="password file (- for stdin); asked at the terminal if not given"
    )
    add.add_argument("--passphrase-file", metavar="FILE", help="passphrase of an encrypted key (- for stdin)")
    add.add_argument("--inactive", action="store_true", help="add it inactive")
    add.add_argument("--json", action="store_true", help="the API's data as JSON")
    test = actions.add_parser("test", parents=[common], help="test connectivity (exit 1 if disconnected)")
    test.add_argument("server", help="name or id")
    test.add_argument("--json", action="store_true", help="the API's data as JSON")

    run = commands.add_parser(
        "run",
        parents=[common],
        help="run a command on a server, printing its output live; exits with its exit code (client)",
        usage="newremora run [options] SERVER -- COMMAND [ARG...]",
    )
    run.add_argument("server", help="name or id")
    run.add_argument("words", nargs="*", metavar="COMMAND", help="the command line (after --), run by /bin/sh -c")
    run.add_argument("--timeout", type=int, help="seconds (default: the service's, 300)")
    run.add_argument("--priority", type=int, help="1..10, higher first (default 5)")
    run.add_argument("--script", metavar="FILE", help="run this script file (- for stdin) instead of a command")
    run.add_argument("--shell", help="interpreter of --script (default /bin/bash)")
    run.add_argument("-d", "--detach", action="store_true", help="print the job id and exit; do not follow")

    jobs = commands.add_parser("jobs", help="list jobs (client)")
    job_actions = jobs.add_subparsers(dest="action", required=True)
    job_list = job_actions.add_parser("list", parents=[common], help="list jobs, newest first")
    job_list.add_argument("--status", choices=JOB_STATUSES)
    job_list.add_argument("--server", help="name or id")
    job_list.add_argument("--search", help="text in the command, args or script")
    job_list.add_argument("--limit", type=int, default=20, help="jobs per page (1..100, default 20)")
    job_list.add_argument("--page", type=int, default=1)
    job_list.add_argument("--json", action="store_true", help="the API's data (jobs and pagination) as JSON")

    logs = commands.add_parser("logs", parents=[common], help="print a job's output (client)")
    logs.add_argument("job", help="job id")
    logs.add_argument(
        "-f", "--follow", action="store_true", help="follow it live to its end; exit with the job's exit code"
    )

    cancel = commands.add_parser("cancel", parents=[common], help="cancel a queued or running job (client)")
    cancel.add_argument("job", help="job id")
    cancel.add_argument("--wait", action="store_true", help="wait until the job has stopped")

    launch = commands.add_parser(
        "launch",
        parents=[common],
        help="launch a job template, printing its output live; exits with its exit code (client)",
        usage="newremora launch [options] TEMPLATE [-p NAME=VALUE ...]",
    )
    launch.add_argument("template", help="name or id")
    launch.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter's value (converted by its type; repeat for each)",
    )
    launch.add_argument("--no-follow", action="store_true", help="print the job ids and exit; do not follow")
    templates = commands.add_parser("templates", help="list job templates (client)")
    template_actions = templates.add_subparsers(dest="action", required=True)
    template_list = template_actions.add_parser("list", parents=[common], help="list templates by name")
    template_list.add_argument("--json", action="store_true", help="the API's data as JSON")


def _add_trigger_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    triggers = commands.add_parser("triggers", help="signed webhook triggers of templates (client)")
    actions = triggers.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common], help="list a template's triggers (never their secrets)")
    listing.add_argument("template", help="the template's name or id")
    listing.add_argument("--json", action="store_true", help="the API's data as JSON")
    create = actions.add_parser(
        "create", parents=[common], help="a URL that launches the template; prints its secret once and how to sign"
    )
    create.add_argument("template", help="the template's name or id")
    create.add_argument("--name", default="webhook", help="a label for people (default webhook)")
    create.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="PARAM=BODY.PATH",
        help="the body field a parameter takes (release.tag_name, commits.0.id); unmapped: the top-level field "
        "of its name",
    )
    create.add_argument("--rate-limit", type=int, metavar="N", help="accepted requests a minute (default 10)")
    create.add_argument("--disabled", action="store_true", help="create it disabled (it refuses requests)")
    create.add_argument("--json", action="store_true", help="the API's data (with the secret) as JSON")
    rotate = actions.add_parser("rotate", parents=[common], help="a new secret, printed once; the old one is refused")
    rotate.add_argument("trigger", help="its id")
    rotate.add_argument("--json", action="store_true", help="the API's data (with the secret) as JSON")
    delete = actions.add_parser("delete", parents=[common], help="delete a trigger (its URL refuses requests)")
    delete.add_argument("trigger", help="its id")


def _add_notification_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    notifications = commands.add_parser(
        "notifications", help="outgoing webhooks on job and batch ends: targets and their deliveries (client)"
    )
    actions = notifications.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common], help="list notification targets (never their secrets)")
    listing.add_argument("--json", action="store_true", help="the API's data as JSON")
    create = actions.add_parser(
        "create", parents=[common], help="a target; its signing secret is random (printed once) or from a file"
    )
    create.add_argument("--name", required=True, help="unique name")
    # Not --url: that is the service's address, as in every client command.
    create.add_argument("--webhook-url", required=True, metavar="URL", help="where events are POSTed (http or https)")
    create.add_argument(
        "--event",
        action="append",
        required=True,
        metavar="EVENT",
        help="job.completed, job.failed, job.canceled, batch.completed, batch.failed or batch.canceled; repeat "
        "for each",
    )
    create.add_argument("--template", help="only jobs launched from this template (name or id)")
    create.add_argument("--format", choices=("json", "slack"), default="json", help="the body (default json)")
    create.add_argument(
        "--secret-file", metavar="FILE", help="the signing secret, 16-256 characters, from a file (- for stdin)"
    )
    create.add_argument("--disabled", action="store_true", help="create it disabled")
    create.add_argument("--json", action="store_true", help="the API's data as JSON")
    deliveries = actions.add_parser(
        "deliveries", parents=[common], help="a target's deliveries, newest first, each with its attempts"
    )
    deliveries.add_argument("target", help="its name or id")
    deliveries.add_argument("--limit", type=int, default=20, help="how many of the newest (1..500, default 20)")
    deliveries.add_argument("--json", action="store_true", help="the API's data as JSON")
    for action, text in (
        ("test", "queue a test event for a target (see it in its deliveries)"),
        ("enable", "enable a target"),
        ("disable", "disable a target: no new events, pending ones wait"),
        ("delete", "delete a target and its deliveries"),
    ):
        one = actions.add_parser(action, parents=[common], help=text)
        one.add_argument("target", help="its name or id")


def run_client_command(args: argparse.Namespace) -> int:
    """Run a client subcommand; its result and problems go to stdout/stderr, the return value is the exit code."""
    from app.client.api import Api
    from app.client.config import ClientConfig
    from app.client.errors import ClientError
    from app.client.jobs import cancel, list_jobs, logs, run
    from app.client.notifications import (
        create_target,
        delete_target,
        disable_target,
        enable_target,
        list_deliveries,
        list_targets,
        test_target,
    )
    from app.client.outcome import Outcome
    from app.client.schedules import (
        create_schedule,
        delete_schedule,
        disable_schedule,
        enable_schedule,
        list_schedules,
    )
    from app.client.servers import add_server, list_servers, test_server
    from app.client.templates import launch, list_templates
    from app.client.triggers import create_trigger, delete_trigger, list_triggers, rotate_trigger

    # Commands that follow a job answer with its exit code, so their own failures need one of their own.
    follows = args.command == "run" or (args.command == "launch" and not args.no_follow)
    follows = follows or (args.command == "logs" and args.follow)
    try:
        config = ClientConfig.load(args.url, args.token_file)
        with Api(config) as api:
            if args.command == "servers":
                handlers = {"list": list_servers, "add": add_server, "test": test_server}
                outcome = Outcome(handlers[args.action](api, args))
            elif args.command == "schedules":
                actions = {
                    "list": list_schedules,
                    "create": create_schedule,
                    "enable": enable_schedule,
                    "disable": disable_schedule,
                    "delete": delete_schedule,
                }
                outcome = Outcome(actions[args.action](api, args))
            elif args.command == "triggers":
                trigger_actions = {
                    "list": list_triggers,
                    "create": create_trigger,
                    "rotate": rotate_trigger,
                    "delete": delete_trigger,
                }
                outcome = Outcome(trigger_actions[args.action](api, args))
            elif args.command == "notifications":
                target_actions = {
                    "list": list_targets,
                    "create": create_target,
                    "deliveries": list_deliveries,
                    "test": test_target,
                    "enable": enable_target,
                    "disable": disable_target,
                    "delete": delete_target,
                }
                outcome = Outcome(target_actions[args.action](api, args))
            elif args.command == "jobs":
                outcome = Outcome(list_jobs(api, args))
            elif args.command == "run":
                outcome = run(api, config, args)
            elif args.command == "launch":
                outcome = launch(api, config, args)
            elif args.command == "templates":
                outcome = Outcome(list_templates(api, args))
            elif args.command == "logs":
                outcome = logs(api, config, args)
            else:
                outcome = cancel(api, config, args)
    except ClientError as exc:
        print(f"newremora: {exc.message}", file=sys.stderr)
        return EXIT_CLIENT if follows else 1
    except KeyboardInterrupt:
        return EXIT_LEFT
    except BrokenPipeError:
        # The reader of our output has gone (`| head`): stop quietly, as a well-behaved Unix command does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    if outcome.message:
        sys.stdout.flush()
        print(f"newremora: {outcome.message}", file=sys.stderr)
    return outcome.code
