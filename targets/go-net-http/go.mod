module hopcheck.invalid/targets/go-net-http

go 1.22
