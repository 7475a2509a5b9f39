package main

import (
	"context"
	"errors"
	"io"
)

func cmdCheck(context.Context, []string, io.Writer, io.Writer) error {
	return errors.New("check: not built yet")
}

func cmdCerts(context.Context, []string, io.Writer, io.Writer) error {
	return errors.New("certs: not built yet")
}

func cmdSensors(context.Context, []string, io.Writer, io.Writer) error {
	return errors.New("sensors: not built yet")
}
