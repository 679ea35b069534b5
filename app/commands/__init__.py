"""The `klaxon` command line: `main` parses it and starts each process (web through gunicorn,
`klaxon worker` and `klaxon engine` through the loops in `workers/`), `create` holds the
create-* commands, and `dev` and `dev_demo` run the whole system on one machine."""
