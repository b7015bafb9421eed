module meseta

go 1.26

require (
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/cockroachdb/datadriven v1.0.3
	github.com/google/btree v1.1.3
)

require github.com/pmezard/go-difflib v1.0.0 // indirect
