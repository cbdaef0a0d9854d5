"""Documents: the link between a room and its file in the ContentsManager."""
