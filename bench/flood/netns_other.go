//go:build !linux

package main

import (
	"errors"
	"net/netip"
)

var (
	isoServer, isoUser, isoAttack, isoIdle, isoBots netip.Addr
)

const exitNoNetns = 3

var errNoNetns = errors.New("network namespaces need Linux")

func isolate([]string) (bool, int, error) { return false, 0, errNoNetns }

func setupLoopback() error { return errNoNetns }
