"""One thin module per DVC stage: read params and files, call the library, write files."""
