"""The storecheck pytest plugin (registered through the ``pytest11`` entry point)."""

from storecheck.plugin.profiles import PROFILES, Profile
from storecheck.plugin.selection import Plan, Selected

__all__ = ["PROFILES", "Plan", "Profile", "Selected"]
