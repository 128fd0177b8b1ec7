// Package terraform holds the deployment modules; its tests check them statically.
package terraform
