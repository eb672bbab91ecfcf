"""The pure core: values, rules and use cases. No I/O happens in this package."""
