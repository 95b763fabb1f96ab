from seqcompare.cli import main

raise SystemExit(main())
