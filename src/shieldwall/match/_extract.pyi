"""Types of the compiled block reader (`_extract.c`); see `extract.read_block`."""

def read_block(
    data: bytes, max_collisions: int
) -> (
    tuple[int, dict[str, list[str]], dict[str, list[int]], dict[bytes, int], list[bytes]] | None
): ...
