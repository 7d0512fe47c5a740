module netspace

go 1.26.8
