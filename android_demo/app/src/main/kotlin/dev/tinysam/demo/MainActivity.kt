package dev.tinysam.demo

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.darkColorScheme
import dev.tinysam.demo.ui.SegmentScreen

/** Hosts the single Compose screen; all state lives in [SegmentViewModel]. */
class MainActivity : ComponentActivity() {
    private val viewModel: SegmentViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent {
            MaterialTheme(colorScheme = darkColorScheme()) {
                SegmentScreen(viewModel)
            }
        }
    }
}
