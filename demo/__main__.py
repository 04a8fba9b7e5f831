from demo.app import main

raise SystemExit(main())
