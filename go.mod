module github.com/carriermq/carrier

go 1.26.8
