"""The outside world (netlink, SQLite, processes, files) behind the domain's ports."""
