package faults

import (
	"sort"
	"time"
)

// CriticalPath is the longest chain of logged requests in which each one
// started only after the one before it had ended: the requests that, as
// measured, waited on one another. Its length is the number of sequential
// round trips; requests that overlapped count once. Ties go to the chain
// with the most modelled waiting.
func CriticalPath(log []Logged) []Logged {
	return longest(log, func(q Logged) time.Duration { return q.End.Sub(q.Start) }, true)
}

// HeaviestPath is the chain of logged requests, each started only after
// the one before it had ended, whose modelled latencies add up to the most:
// the least time any client needs for what it sent in that order, so the
// floor a command's wall time is judged against. A longer chain of quick
// requests (CriticalPath's) can weigh less. Ties go to the longer chain.
func HeaviestPath(log []Logged, latency map[string]time.Duration) []Logged {
	return longest(log, func(q Logged) time.Duration { return latency[q.Service] }, false)
}

// longest finds the best chain by dynamic programming over the requests in
// the order they ended: by count first (then weight) when byCount, else by
// weight first (then count).
func longest(log []Logged, weight func(Logged) time.Duration, byCount bool) []Logged {
	reqs := append([]Logged(nil), log...)
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].End.Before(reqs[j].End) })
	n := len(reqs)
	length := make([]int, n)
	spent := make([]time.Duration, n)
	prev := make([]int, n)
	better := func(l int, s time.Duration, i int) bool {
		if byCount {
			return l > length[i] || l == length[i] && s > spent[i]
		}
		return s > spent[i] || s == spent[i] && l > length[i]
	}
	best := -1
	for i := range reqs {
		length[i], spent[i], prev[i] = 1, weight(reqs[i]), -1
		for j := 0; j < i; j++ {
			if reqs[j].End.After(reqs[i].Start) {
				continue
			}
			if l, s := length[j]+1, spent[j]+weight(reqs[i]); better(l, s, i) {
				length[i], spent[i], prev[i] = l, s, j
			}
		}
		if best < 0 || better(length[i], spent[i], best) {
			best = i
		}
	}
	var chain []Logged
	for i := best; i >= 0; i = prev[i] {
		chain = append(chain, reqs[i])
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain
}

// Floor is what a chain costs at the modelled latencies alone: the sum of
// each request's service latency, the time no client can save.
func Floor(chain []Logged, latency map[string]time.Duration) time.Duration {
	var d time.Duration
	for _, q := range chain {
		d += latency[q.Service]
	}
	return d
}
