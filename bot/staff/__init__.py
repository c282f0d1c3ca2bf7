"""Staff: accounts with roles (agent, editor, admin), their sessions, passwords, the login limiter,
and the one decorator every staff page's route uses (``bot.staff.auth``, which needs Sanic)."""

from bot.staff.accounts import ADMIN, AGENT, EDITOR, ROLES, Staff, StaffError, StaffStore
from bot.staff.limiter import LoginLimiter
from bot.staff.passwords import PasswordError, hash_password, verify_password

__all__ = ["ADMIN", "AGENT", "EDITOR", "ROLES", "Staff", "StaffError", "StaffStore", "LoginLimiter",
           "PasswordError", "hash_password", "verify_password"]
