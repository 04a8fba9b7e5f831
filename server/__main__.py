from workpool_server.cli import main

raise SystemExit(main())
