package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	code := runMain([]string{"no-such-command"}, nil, &out, &errb)
	require.Equal(t, 2, code)
	require.Contains(t, errb.String(), `unknown command "no-such-command"`)
}

func TestNoArgsPrintsUsage(t *testing.T) {
	var out, errb bytes.Buffer
	code := runMain(nil, nil, &out, &errb)
	require.Equal(t, 2, code)
	require.Contains(t, errb.String(), "usage: sectorflow")
}
