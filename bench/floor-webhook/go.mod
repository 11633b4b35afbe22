module podpattern.dev/bench/floor-webhook

go 1.26
