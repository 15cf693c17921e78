// Package storagetest is the conformance suite for sectorflow.Storage: every store in this module
// runs it, and so can any other implementation, such as a hosted platform's.
//
//	func TestMyStore(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T, now func() time.Time) sectorflow.Storage {
//			return sectorflow.NewStore(newMyDriver(t), &sectorflow.StoreOptions{Now: now})
//		})
//	}
//
// Its subtests are named after the privacy promises they prove (TenantIsolation,
// TemporaryDataExpires, TenantDeletionRemovesEverything, ...).
package storagetest
