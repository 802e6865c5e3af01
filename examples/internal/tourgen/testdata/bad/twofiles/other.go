package main

const other = 1
