// Package conversion guards the first read of a sensor that converts on its
// own, over and over, and can be shut down (MCP9808, TMP102): after power-up
// or a wake-up its result register holds a reset or stale value until one
// conversion has finished, so that first read must wait one conversion time.
package conversion

import (
	"context"
	"fmt"
	"time"

	"github.com/edgepub/edgepub/sensors/internal/pause"
)

// Gate makes the first read after power-up or a wake-up wait one
// conversion, and wakes a halted sensor first. It is not safe for concurrent
// use: the lock that keeps the driver's bus transfers apart must guard it.
type Gate struct {
	conversion time.Duration
	halted     bool
	// converted is true once a conversion has finished since power-up or
	// the last wake-up.
	converted bool
}

// NewGate returns the Gate of a sensor that has just been powered up or
// configured, so its first read waits. conversion is the sensor's
// conversion time.
func NewGate(conversion time.Duration) Gate {
	return Gate{conversion: conversion}
}

// MarkHalted records that the sensor has been shut down, so the next Await
// wakes it and waits for a fresh conversion.
func (g *Gate) MarkHalted() { g.halted = true }

// Await readies the sensor for a read: a halted sensor is woken with wake,
// and the first read since power-up or the wake-up waits one conversion. A
// wait cut short by ctx leaves the gate closed, so the next Await waits
// again.
func (g *Gate) Await(ctx context.Context, wake func() error) error {
	if g.halted {
		if err := wake(); err != nil {
			return fmt.Errorf("wake up: %w", err)
		}
		g.halted, g.converted = false, false
	}
	if !g.converted {
		if err := pause.For(ctx, g.conversion); err != nil {
			return fmt.Errorf("wait for first conversion: %w", err)
		}
		g.converted = true
	}
	return nil
}
