// Package durable holds what the packages that write files share to make
// a change survive a crash of the host.
package durable

import "os"

// SyncDir makes the entries of dir durable: a file created, renamed into
// it or removed from it. A rename is durable only once its directory is.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
