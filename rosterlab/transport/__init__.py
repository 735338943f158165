"""SFTP transport: push a bundle safely (``*.part`` + posix-rename) and pull a target's files.

The only room that imports paramiko. Host keys must be pinned in the target's known_hosts file;
an unknown or changed key is always refused.
"""

from rosterlab.transport.common import TransferProgress
from rosterlab.transport.pull import PulledFile, PullResult, pull_bundle, spec_name_of
from rosterlab.transport.push import PlannedFile, PushPlan, PushResult, plan_push, push_bundle
from rosterlab.transport.session import check_credentials
from rosterlab.transport.target import Target, load_target, target_from_table

__all__ = [
    "PlannedFile",
    "PullResult",
    "PulledFile",
    "PushPlan",
    "PushResult",
    "Target",
    "TransferProgress",
    "check_credentials",
    "load_target",
    "plan_push",
    "pull_bundle",
    "push_bundle",
    "spec_name_of",
    "target_from_table",
]
